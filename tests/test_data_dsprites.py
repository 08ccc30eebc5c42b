"""dSprites: the procedural renderer's geometry, and the .npz loader on small files made here."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from minirtc import data
from minirtc.data import sprites
from minirtc.data.dsprites import (
    DSprites,
    ProceduralDSprites,
    pack_images,
    unpack_images,
    write_dsprites_npz,
)
from minirtc.data.files import DataError
from minirtc.data.subsets import FactorRanges

SHAPES = (0, 1, 2)  # square, ellipse, heart
ROWS, COLS = np.mgrid[0:64, 0:64]


@pytest.fixture(scope="module")
def ds():
    return ProceduralDSprites()


def render(ds, factors) -> np.ndarray:
    """Masks (B, 64, 64) of factor classes (B, 6)."""
    return ds.images(ds.factors_to_index(np.asarray(factors)))[..., 0]


def centroid(mask: np.ndarray) -> tuple[float, float]:
    return float(ROWS[mask > 0].mean()), float(COLS[mask > 0].mean())


def test_images_are_binary_uint8_and_deterministic(ds):
    index = np.random.default_rng(0).integers(0, len(ds), 64)
    x = ds.images(index)
    assert x.shape == (64, 64, 64, 1) and x.dtype == np.uint8
    assert set(np.unique(x)) == {0, 1}
    np.testing.assert_array_equal(x, ProceduralDSprites(workers=1).images(index))


def test_threaded_chunks_equal_one_chunk(ds):
    index = np.random.default_rng(1).integers(0, len(ds), 9000)  # more than one render chunk
    many = ds.images(index)
    np.testing.assert_array_equal(many[::500], ds.images(index[::500]))


@pytest.mark.parametrize("shape", SHAPES)
def test_centroid_moves_with_posx_and_posy(ds, shape):
    """Centroid column is linear in posX (40/31 px per class), row linear in posY; the other stays put."""
    steps = np.arange(0, 32, 5)
    along_x = render(ds, [[0, shape, 5, 7, k, 10] for k in steps])
    along_y = render(ds, [[0, shape, 5, 7, 10, k] for k in steps])
    centre = sprites.sprite_centres(steps / 31, 64) - 0.5  # expected centre in pixel-index units
    fixed = sprites.sprite_centres(np.array([10 / 31]), 64)[0] - 0.5
    rows_x, cols_x = np.array([centroid(m) for m in along_x]).T
    rows_y, cols_y = np.array([centroid(m) for m in along_y]).T
    np.testing.assert_allclose(cols_x, centre, atol=0.6)  # sampling a sprite at sub-pixel offsets
    np.testing.assert_allclose(rows_y, centre, atol=0.6)  # moves its centroid by a fraction of a pixel
    np.testing.assert_allclose(rows_x, fixed, atol=0.6)
    np.testing.assert_allclose(cols_y, fixed, atol=0.6)


@pytest.mark.parametrize("shape", SHAPES)
def test_area_grows_with_scale_squared(ds, shape):
    """log area against log scale has slope 2 (averaged over orientations), and area ~ 1.6 (11 s)^2 px."""
    scales = np.linspace(0.5, 1.0, 6)
    factors = [[0, shape, s, o, 16, 16] for s in range(6) for o in range(0, 40, 3)]
    area = render(ds, factors).sum(axis=(1, 2)).reshape(6, -1).mean(axis=1)
    slope = np.polyfit(np.log(scales), np.log(area), 1)[0]
    assert abs(slope - 2.0) < 0.1
    np.testing.assert_allclose(area, 1.6 * (11 * scales) ** 2, rtol=0.1)


@pytest.mark.parametrize("shape", SHAPES)
def test_quarter_turn_rotates_the_mask(shape):
    """About the image centre, orientation pi/2 is the orientation-0 mask turned counter-clockwise."""
    masks = sprites.render_sprites(
        np.array([shape] * 2), [1.0, 1.0], [0.0, np.pi / 2], [0.5, 0.5], [0.5, 0.5]
    )
    assert np.sum(np.rot90(masks[0]) != masks[1]) <= 2  # boundary pixels may round either way


def test_ellipse_major_axis_follows_orientation(ds):
    """The mask's principal axis (second moments) points at the orientation angle, mod pi."""
    masks = render(ds, [[0, 1, 5, k, 16, 16] for k in range(40)])
    angles = []
    for mask in masks:
        x = COLS[mask > 0] - COLS[mask > 0].mean()
        y = -(ROWS[mask > 0] - ROWS[mask > 0].mean())  # up is positive
        _, vectors = np.linalg.eigh(np.cov(np.stack([x, y])))
        angles.append(np.arctan2(vectors[1, 1], vectors[0, 1]) % np.pi)
    error = (np.array(angles) - ds.factor_values[3]) % np.pi
    assert np.degrees(np.minimum(error, np.pi - error)).max() < 3.0


def test_symmetries_of_square_and_ellipse(ds):
    """A square looks the same after a quarter turn (10 classes), an ellipse after a half turn (20)."""
    square = render(ds, [[0, 0, 5, 3, 16, 16], [0, 0, 5, 13, 16, 16]])
    ellipse = render(ds, [[0, 1, 5, 3, 16, 16], [0, 1, 5, 23, 16, 16], [0, 1, 5, 13, 16, 16]])
    assert np.sum(square[0] != square[1]) <= 4
    assert np.sum(ellipse[0] != ellipse[1]) <= 4
    assert np.sum(ellipse[0] != ellipse[2]) > 40  # but not after a quarter turn


def test_shapes_differ(ds):
    masks = render(ds, [[0, s, 5, 0, 16, 16] for s in SHAPES]).astype(bool)
    for a in range(3):
        for b in range(a + 1, 3):
            iou = (masks[a] & masks[b]).sum() / (masks[a] | masks[b]).sum()
            assert iou < 0.85, (a, b, iou)


def test_heart_points_down_at_orientation_zero(ds):
    """The heart's lobes are up: its widest row is above its centroid."""
    mask = render(ds, [[0, 2, 5, 0, 16, 16]])[0]
    widths = mask.sum(axis=1)
    assert np.argmax(widths) < centroid(mask)[0]


def test_sprites_stay_inside_the_image(ds):
    corners = [[0, s, 5, o, x, y] for s in SHAPES for o in (0, 5) for x in (0, 31) for y in (0, 31)]
    masks = render(ds, corners)
    border = masks[:, 0, :].sum() + masks[:, -1, :].sum() + masks[:, :, 0].sum() + masks[:, :, -1].sum()
    assert border == 0 and masks.sum(axis=(1, 2)).min() > 100


def test_pack_roundtrip():
    x = (np.random.default_rng(0).random((5, 64, 64)) > 0.5).astype(np.uint8)
    packed = pack_images(x)
    assert packed.shape == (5, 64, 8)
    np.testing.assert_array_equal(unpack_images(packed), x)


# -- the .npz file ------------------------------------------------------------------

SMALL = {"scale": (0, 2), "orientation": (0, 2), "posX": (0, 4), "posY": (0, 4)}  # 3 * 2 * 2 * 4 * 4 = 192


@pytest.fixture(scope="module")
def small():
    return FactorRanges(ProceduralDSprites(), SMALL)


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("packed", [False, True])
def test_rendered_npz_reads_back(tmp_path, small, compress, packed):
    path = write_dsprites_npz(tmp_path / "d.npz", small, compress=compress)
    loaded = DSprites(path, expected_sizes=None, packed=packed)
    assert loaded.factor_sizes == small.factor_sizes and len(loaded) == 192
    index = np.array([5, 0, 191, 5, 77])
    np.testing.assert_array_equal(loaded.images(index), small.images(index))
    np.testing.assert_allclose(loaded.factor_values[2], [0.5, 0.6])
    info = loaded.describe()
    assert info["source"] == "procedural-file" and info["path"] == str(path.resolve())
    assert info["origin"] == "minirtc dsprites-procedural render"
    assert info["size_bytes"] == path.stat().st_size and len(info["sha256"]) == 64
    assert isinstance(loaded.store, np.memmap) == (not compress)
    with np.load(path) as z:  # NumPy reads it like the real file
        assert z["imgs"].shape == (192, 64, 64) and z["latents_classes"].shape == (192, 6)


def real_like(path, imgs=None, classes=None, values=None, **extra):
    """An npz laid out like the real file (with a pickled `metadata` the loader must never unpickle)."""
    sizes = (1, 3, 1, 1, 2, 2)
    n = int(np.prod(sizes))
    classes = np.stack(np.unravel_index(np.arange(n), sizes), axis=1) if classes is None else classes
    values = classes.astype(np.float64) if values is None else values
    imgs = (np.arange(n)[:, None, None] + np.zeros((1, 64, 64), int)) % 2 if imgs is None else imgs
    arrays = {"imgs": imgs.astype(np.uint8) if imgs.dtype.kind == "i" else imgs}
    arrays.update(latents_classes=classes, latents_values=values, **extra)
    arrays["metadata"] = np.array({"date": "fake"}, dtype=object)
    np.savez_compressed(path, **arrays)
    return path


def test_real_format_file_reads_as_real(tmp_path):
    path = real_like(tmp_path / "d.npz")
    ds = DSprites(path, expected_sizes=None)
    assert ds.factor_sizes == (1, 3, 1, 1, 2, 2)
    np.testing.assert_array_equal(ds.images(np.arange(4))[:, 0, 0, 0], [0, 1, 0, 1])
    assert ds.describe()["source"] == "real"


def test_load_finds_the_file_in_data_dir(tmp_path, small):
    write_dsprites_npz(tmp_path / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz", small)
    with pytest.raises(DataError, match=r"declare factor sizes \(1, 3, 2, 2, 4, 4\), expected \(1, 3, 6, 40"):
        data.load("dsprites", data_dir=tmp_path)


def test_truncated_file(tmp_path, small):
    path = write_dsprites_npz(tmp_path / "d.npz", small)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=r"d\.npz is not a readable \.npz.*truncated or corrupt"):
        DSprites(path, expected_sizes=None)


def test_corrupt_image_data_is_reported_when_read(tmp_path, small):
    path = write_dsprites_npz(tmp_path / "d.npz", small)
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("imgs.npy")
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    raw[start : start + 64] = bytes(64)  # overwrite compressed bytes in the middle of the member
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"d\.npz.*'imgs'"):
        DSprites(path, expected_sizes=None).images(np.arange(3))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"imgs": np.zeros((12, 32, 32), np.uint8)},
            r"'imgs' must be \(N, 64, 64\) uint8, got \(12, 32, 32\)",
        ),
        ({"imgs": np.zeros((12, 64, 64), np.float32)}, "'imgs' must be .* uint8, got .* float32"),
        ({"classes": np.zeros((12, 5), np.int64)}, r"'latents_classes' must be \(12, 6\) integer"),
        ({"values": np.zeros((12, 6), np.int64)}, "'latents_values' must be .* float"),
        ({"classes": np.zeros((12, 6), np.int64)}, "do not form a full factor grid"),
        (
            {"classes": np.stack(np.unravel_index(np.arange(12)[::-1], (1, 3, 1, 1, 2, 2)), axis=1)},
            "not in mixed-radix order",
        ),
    ],
)
def test_malformed_files_are_named_with_what_was_expected(tmp_path, kwargs, message):
    path = real_like(tmp_path / "bad.npz", **kwargs)
    with pytest.raises(DataError, match=message) as error:
        DSprites(path, expected_sizes=None)
    assert "bad.npz" in str(error.value)


def test_missing_key(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, imgs=np.zeros((1, 64, 64), np.uint8), latents_classes=np.zeros((1, 6), np.int64))
    with pytest.raises(DataError, match=r"missing arrays \['latents_values'\]"):
        DSprites(path, expected_sizes=None)


def test_not_binary_is_reported(tmp_path):
    path = real_like(tmp_path / "bad.npz", imgs=np.full((12, 64, 64), 7, np.uint8))
    with pytest.raises(DataError, match="only 0 and 1, found 7"):
        DSprites(path, expected_sizes=None).images(np.arange(2))


def test_render_rejects_a_random_subset(tmp_path):
    with pytest.raises(ValueError, match="not a full grid"):
        write_dsprites_npz(tmp_path / "x.npz", data.load("dsprites-procedural", subset=10))
    assert not (tmp_path / "x.npz").exists()
