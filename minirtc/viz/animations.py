"""The pictures of a traversal as uint8 frames: per-latent GIFs, the all-latents GIF, mosaics.

Inputs are decoded traversals (`traversal.traverse`) and the latents' KL; outputs are
lists of same-sized uint8 RGB frames for `gif.gif_bytes`, or single mosaics (also
what the live loggers send at each evaluation).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from minirtc.viz import traversal
from minirtc.viz.frames import common_size, mosaic, slider, text_width, to_rgb8

Encoder = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def latent_labels(kl: np.ndarray, active: np.ndarray) -> list[str]:
    """ "z3  KL 2.31" per latent, "z7  inactive" for an inactive one."""
    return [
        f"z{d + 1}  KL {kl[d]:.2f}" if active[d] else f"z{d + 1}  inactive ({kl[d]:.2f})"
        for d in range(len(kl))
    ]


def value_text(values: np.ndarray, value_range: str, k: int) -> str:
    """What frame k shows: "z = +1.25 (prior sd)" or "quantile 0.37" of the data."""
    if value_range == "prior":
        return f"z = {values[0, k]:+.2f} (prior sd units)"
    levels = np.linspace(*traversal.QUANTILE_SPAN, values.shape[1])
    return f"each latent at its {levels[k]:.1%} quantile of the data"


def latent_frames(
    references: np.ndarray, frames: np.ndarray, label: str, values: np.ndarray, subtitle: str
) -> list[np.ndarray]:
    """K frames of one latent: a row per reference item, [input | decoded at value k].

    references: (R, H, W, C); frames: (R, K, H, W, C); values: (K,) this latent's values.
    """
    R, K = frames.shape[:2]
    inputs = to_rgb8(references)  # (R, H, W', 3)
    decoded = to_rgb8(frames)  # (R, K, H, W', 3)
    rows = [f"item {r + 1}" for r in range(R)]
    width = max(text_width(t) for t in rows) + 8
    return common_size(
        [
            mosaic(
                np.stack([inputs, decoded[:, k]], axis=1),  # (R, 2, H, W', 3)
                rows,
                [label, f"{slider(k, K)}  value {values[k]:+.2f}", subtitle],
                ["input", "traversed"],
                label_width=width,
            )
            for k in range(K)
        ]
    )


def all_latents_frames(
    frames: np.ndarray, order: np.ndarray, labels: list[str], active: np.ndarray, titles: list[str]
) -> list[np.ndarray]:
    """K frames: a row per latent in `order` (inactive last, grey labels), a column per reference.

    frames: (D, R, K, H, W, C); titles: one header line per frame (K,).
    """
    D, R, K = frames.shape[:3]
    decoded = to_rgb8(frames[order])  # (D, R, K, H, W', 3)
    rows = [labels[d] for d in order]
    muted = [not active[d] for d in order]
    width = max(text_width(t) for t in rows) + 8
    columns = [f"item {r + 1}" for r in range(R)]
    return common_size(
        [
            mosaic(
                decoded[:, :, k],
                rows,
                ["All latents, most informative first", f"{slider(k, K)} {titles[k]}"],
                columns,
                muted,
                label_width=width,
            )
            for k in range(K)
        ]
    )


def traversal_mosaic(
    frames: np.ndarray,
    order: np.ndarray,
    labels: list[str],
    active: np.ndarray,
    title: str,
    column_labels: list[str] | None = None,
) -> np.ndarray:
    """One still picture (uint8): a row per latent in `order`, its K frames for one reference item.

    frames: (D, K, H, W, C).
    """
    rows = [labels[d] for d in order]
    return mosaic(to_rgb8(frames[order]), rows, [title], column_labels, [not active[d] for d in order])


def reconstruction_mosaic(inputs: np.ndarray, reconstructions: np.ndarray, title: str) -> np.ndarray:
    """Inputs (N, H, W, C) above their reconstructions (N, H, W, C), as one uint8 picture ("" : no title)."""
    cells = to_rgb8(np.stack([inputs, reconstructions]))  # (2, N, H, W', 3)
    return mosaic(cells, ["input", "reconstruction"], [title] if title else [])


def evaluation_pictures(
    encode: Encoder, decode: traversal.Decoder, images: np.ndarray, pixel_max: int, num_frames: int = 9
) -> dict[str, np.ndarray]:
    """What a live logger shows at an evaluation: reconstructions and a traversal mosaic (uint8).

    images: (E, H, W, C) uint8 evaluation items; the first 8 are reconstructed, the
    first one traversed over the prior's +-2.5 sd, latents ordered by KL.
    """
    mu, logvar = encode(images)  # (E, D) each
    shown = images[:8].astype(np.float64) / pixel_max  # (8, H, W, C) in [0, 1]
    kl, active = traversal.kl_per_latent(mu, logvar), traversal.active_latents(mu)
    values = traversal.traversal_values(mu, num_frames, "prior")  # (D, K)
    frames = traversal.traverse(decode, mu[:1], values)[:, 0]  # (D, K, H, W, C)
    order = traversal.kl_order(kl, active)
    return {
        "reconstructions": reconstruction_mosaic(
            shown, np.asarray(decode(mu[:8])), "evaluation items and their reconstructions (decoded \u03bc)"
        ),
        "traversals": traversal_mosaic(
            frames,
            order,
            latent_labels(kl, active),
            active,
            "item 1: one latent per row swept over the prior's \u00b12.5 sd, most informative first",
            [f"{v:+.1f}" for v in values[0]],
        ),
    }
