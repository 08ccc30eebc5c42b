"""The pictures: traversals move what the latent controls, GIFs have the stated frames and size."""

from __future__ import annotations

import io

import numpy as np
import pytest

from minirtc.viz import animations, traversal
from minirtc.viz.frames import cell_size, to_rgb8
from minirtc.viz.gif import bounce, gif_bytes

SIDE, SPRITE = 32, 4  # image side, sprite side (pixels)


def sprite_decoder(z: np.ndarray) -> np.ndarray:
    """A known decoder: z1 moves a red square down, z2 moves it right, z3 does nothing.

    z (B, 3) -> RGB images (B, 32, 32, 3): a 4 x 4 square at row 14 + 4 z1, column 14 + 4 z2.
    """
    images = np.zeros((len(z), SIDE, SIDE, 3))
    for b, (z1, z2, _) in enumerate(z):
        row = int(np.clip(round(14 + 4 * z1), 0, SIDE - SPRITE))
        col = int(np.clip(round(14 + 4 * z2), 0, SIDE - SPRITE))
        images[b, row : row + SPRITE, col : col + SPRITE, 0] = 1.0
    return images


def red_centroid(image: np.ndarray) -> tuple[float, float]:
    """(row, column) centroid of the red pixels of an RGB image (floats in [0, 1] or uint8)."""
    x = np.asarray(image, dtype=np.float64)
    x = x / 255.0 if x.max() > 1 else x
    red = (x[..., 0] > 0.6) & (x[..., 1] < 0.4) & (x[..., 2] < 0.4)
    rows, cols = np.nonzero(red)
    return float(rows.mean()), float(cols.mean())


def test_traversal_latents_change_one_latent_per_block():
    base = np.array([[0.1, 0.2, 0.3], [1.0, 2.0, 3.0]])  # (R=2, D=3)
    values = np.array([[-1.0, 1.0], [-2.0, 2.0], [-3.0, 3.0]])  # (D, K=2)
    z = traversal.traversal_latents(base, values)  # (D, R, K, D)
    assert z.shape == (3, 2, 2, 3)
    for d in range(3):
        for r in range(2):
            for k in range(2):
                expected = base[r].copy()
                expected[d] = values[d, k]
                assert z[d, r, k] == pytest.approx(expected)


def test_traversal_values_prior_and_quantiles():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(4000, 2)) * np.array([1.0, 3.0]) + np.array([0.0, 5.0])  # (N, D)
    prior = traversal.traversal_values(mu, 5, "prior")
    assert prior.tolist() == [[-2.5, -1.25, 0.0, 1.25, 2.5]] * 2
    quantiles = traversal.traversal_values(mu, 3, "quantiles")
    assert quantiles[1] == pytest.approx([5 - 1.96 * 3, 5.0, 5 + 1.96 * 3], abs=0.3)  # 2.5%, 50%, 97.5%
    with pytest.raises(ValueError, match="range must be one of"):
        traversal.traversal_values(mu, 5, "data")


def test_a_traversal_moves_the_factor_its_latent_controls():
    base = np.zeros((1, 3))  # one reference: the square in the middle
    values = np.tile(np.linspace(-2.5, 2.5, 7), (3, 1))  # (D, K)
    frames = traversal.traverse(sprite_decoder, base, values)  # (D, R, K, H, W, C)
    assert frames.shape == (3, 1, 7, SIDE, SIDE, 3)
    centroids = np.array([[red_centroid(frames[d, 0, k]) for k in range(7)] for d in range(3)])  # (D, K, 2)
    assert np.all(np.diff(centroids[0, :, 0]) > 0) and np.ptp(centroids[0, :, 1]) == 0  # z1: down only
    assert np.all(np.diff(centroids[1, :, 1]) > 0) and np.ptp(centroids[1, :, 0]) == 0  # z2: right only
    assert np.ptp(centroids[2], axis=0).tolist() == [0.0, 0.0]  # z3: nothing moves


def test_the_gif_frames_show_the_sprite_moving():
    """Decode the GIF file itself and measure the square in its frames."""
    from PIL import Image

    K = 6
    base = np.zeros((1, 3))
    values = np.tile(np.linspace(-2.5, 2.5, K), (3, 1))
    frames = traversal.traverse(sprite_decoder, base, values)  # (D, 1, K, H, W, 3)
    reference = sprite_decoder(base)  # (1, H, W, 3): the input column, static
    pictures = animations.latent_frames(reference, frames[1], "z2  KL 1.00", values[1], "prior")
    data = gif_bytes(bounce(pictures))
    gif = Image.open(io.BytesIO(data))
    assert gif.n_frames == 2 * K - 2
    assert gif.size == (pictures[0].shape[1], pictures[0].shape[0])
    decoded = []
    for i in range(gif.n_frames):
        gif.seek(i)
        decoded.append(np.asarray(gif.convert("RGB")))
    # The input's square is static, so the centroid of all red moves with the traversed square:
    # right over the first K frames, back left over the rest (the bounce).
    columns = np.array([red_centroid(frame)[1] for frame in decoded])
    assert np.all(np.diff(columns[:K]) > 0)
    assert np.all(np.diff(columns[K - 1 :]) < 0)
    assert np.ptp([red_centroid(frame)[0] for frame in decoded]) < 0.5  # no vertical motion


def test_all_latents_gif_puts_inactive_latents_last_and_keeps_one_size():
    from PIL import Image

    rng = np.random.default_rng(0)
    mu = np.column_stack([rng.normal(size=500), np.full(500, 0.001), rng.normal(size=500) * 0.5])
    logvar = np.column_stack([np.full(500, -2.0), np.zeros(500), np.full(500, -1.0)])
    kl, active = traversal.kl_per_latent(mu, logvar), traversal.active_latents(mu)
    assert active.tolist() == [True, False, True]
    order = traversal.kl_order(kl, active)
    assert order.tolist() == [0, 2, 1]  # z1 carries the most KL, z2 is inactive
    labels = animations.latent_labels(kl, active)
    assert "inactive" in labels[1] and "inactive" not in labels[0]
    values = traversal.traversal_values(mu, 5, "prior")
    frames = traversal.traverse(sprite_decoder, mu[:2], values)  # (D, R=2, K, H, W, 3)
    titles = [animations.value_text(values, "prior", k) for k in range(5)]
    pictures = animations.all_latents_frames(frames, order, labels, active, titles)
    gif = Image.open(io.BytesIO(gif_bytes(bounce(pictures))))
    assert gif.n_frames == 8 and len({p.shape for p in pictures}) == 1
    h, w = cell_size(SIDE, SIDE)
    assert gif.size[1] > 3 * h and gif.size[0] > 2 * w  # three rows of latents, two items


def test_the_heat_map_matrix_is_the_one_mig_is_computed_from():
    from minirtc.metrics.discretize import discrete_entropy
    from minirtc.metrics.mig import mig, mutual_info_gaps, mutual_info_matrix

    rng = np.random.default_rng(1)
    factors = rng.integers(0, 4, size=(500, 2))  # (n, K)
    codes = np.column_stack([factors[:, 1] + 0.1 * rng.normal(size=500), rng.normal(size=500)])  # (n, D)
    mi = mutual_info_matrix(factors, codes)  # (D, K)
    assert mi[0, 1] > 1.0 and mi[1, 1] < 0.1  # code 1 carries factor 2, code 2 nothing
    assert mig(factors, codes) == pytest.approx(np.mean(mutual_info_gaps(mi, discrete_entropy(factors))))
    constant = np.column_stack([factors[:, 0], np.zeros(500, dtype=int)])
    assert mutual_info_matrix(constant, codes, allow_constant=True)[:, 1].tolist() == [0.0, 0.0]


def test_kl_per_latent_is_the_closed_form():
    mu, logvar = np.array([[1.0, 0.0]]), np.array([[0.0, np.log(2.0)]])
    expected = [0.5, 0.5 * (2.0 - np.log(2.0) - 1.0)]  # 0.5 (mu^2 + sigma^2 - log sigma^2 - 1)
    assert traversal.kl_per_latent(mu, logvar) == pytest.approx(expected)


def test_rgb8_of_grey_rgb_and_other_channel_counts():
    assert to_rgb8(np.full((2, 4, 5, 1), 0.5)).shape == (2, 4, 5, 3)
    assert to_rgb8(np.full((4, 5, 3), 2.0)).max() == 255
    assert to_rgb8(np.zeros((4, 5, 2))).shape == (4, 10, 3)  # two channels side by side
    assert cell_size(8, 8) == (48, 48) and cell_size(64, 64) == (64, 64) and cell_size(200, 100) == (96, 48)
    assert cell_size(1, 10) == (16, 160)  # a vector: a strip tall enough to see
