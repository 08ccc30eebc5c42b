"""Shapes3D: the ray-cast scene's geometry and colours, and the h5 loader on small files made here."""

from __future__ import annotations

import colorsys

import h5py
import numpy as np
import pytest

from minirtc import data
from minirtc.data import scene3d, shapes3d
from minirtc.data.files import DataError
from minirtc.data.shapes3d import ProceduralShapes3D, Shapes3D, write_shapes3d_h5
from minirtc.data.subsets import FactorRanges

FLOOR, WALL, OBJECT = 0, 1, 2
SCALES = np.linspace(0.75, 1.25, 8)


def vec(*xyz):
    return tuple(np.array([[c]], dtype=np.float64) for c in xyz)


def test_hue_to_rgb_matches_colorsys():
    hues = np.arange(10) / 10
    expected = [colorsys.hsv_to_rgb(h, 0.8, 1.0) for h in hues]
    np.testing.assert_allclose(scene3d.hue_to_rgb(hues), expected, atol=1e-12)


def test_ray_primitives_known_answers():
    one = np.array([[1.0]])
    t, n = scene3d.hit_sphere(vec(0, 1, -5), vec(0, 0, 1), one, one)  # unit sphere centred at (0, 1, 0)
    assert t[0, 0] == pytest.approx(4.0) and [c[0, 0] for c in n] == pytest.approx([0, 0, -1])
    t, n = scene3d.hit_box(vec(-5, 0.5, 0), vec(1, 0, 0), vec(-1, 0, -1), vec(1, 2, 1))
    assert t[0, 0] == pytest.approx(4.0) and [c[0, 0] for c in n] == pytest.approx([-1, 0, 0])
    t, n = scene3d.hit_cylinder_side(vec(5, 0.5, 0), vec(-1, 0, 0), one, 0 * one, one)
    assert t[0, 0] == pytest.approx(4.0) and [c[0, 0] for c in n] == pytest.approx([1, 0, 0])
    t, _ = scene3d.hit_cylinder_side(vec(5, 1.5, 0), vec(-1, 0, 0), one, 0 * one, one)  # above it
    assert np.isinf(t[0, 0])
    t, n = scene3d.hit_disc_top(vec(0.5, 5, 0), vec(0, -1, 0), one, one)
    assert t[0, 0] == pytest.approx(4.0) and [c[0, 0] for c in n] == pytest.approx([0, 1, 0])
    assert np.isinf(scene3d.hit_plane(vec(0, 1, 0), vec(0, 1, 0), 1, 0.0)[0, 0])  # the floor is behind


@pytest.mark.parametrize("shape", range(4))
def test_object_area_grows_with_scale_squared(shape):
    """Projected area ~ scale^2 (perspective and pixel edges make it approximate)."""
    coverage = scene3d.shaded_coverage(shape, SCALES, np.zeros(8))  # (8, 3, 64, 64)
    area = (coverage[:, OBJECT] > 0).sum(axis=(1, 2))
    assert np.all(np.diff(area) > 0)
    assert abs(np.polyfit(np.log(SCALES), np.log(area), 1)[0] - 2.0) < 0.15


def test_orientation_turns_the_cube_but_not_round_objects():
    """Orientation turns the camera about the vertical axis through the object."""
    for shape, turns in ((0, True), (1, False), (2, False), (3, False)):
        mask = scene3d.shaded_coverage(shape, np.ones(2), np.array([-30.0, 30.0]))[:, OBJECT] > 0
        iou = (mask[0] & mask[1]).sum() / (mask[0] | mask[1]).sum()
        assert (iou < 0.9) if turns else (iou > 0.98), (shape, iou)


def test_the_room_is_mirror_symmetric_in_orientation():
    """The corner faces the camera at orientation 0, so -30 and +30 see mirrored regions (light aside)."""
    regions = scene3d.shaded_coverage(2, np.ones(2), np.array([-30.0, 30.0])) > 0  # (2, 3, 64, 64)
    assert np.sum(regions[0] != regions[1][:, :, ::-1]) <= 20
    assert np.sum(regions[0] != regions[1]) > 200


def test_shapes_differ():
    mask = (
        np.concatenate([scene3d.shaded_coverage(s, np.ones(1), np.zeros(1)) for s in range(4)])[:, OBJECT] > 0
    )
    for a in range(4):
        for b in range(a + 1, 4):
            assert (mask[a] & mask[b]).sum() / (mask[a] | mask[b]).sum() < 0.9, (a, b)


@pytest.fixture(scope="module")
def ds():
    return ProceduralShapes3D()


@pytest.mark.parametrize("factor, region", [(0, FLOOR), (1, WALL), (2, OBJECT)])
def test_each_hue_changes_only_its_region(ds, factor, region):
    base = np.array([2, 5, 8, 4, 1, 9])
    other = base.copy()
    other[factor] = 6
    images = ds.images(ds.factors_to_index(np.stack([base, other]))).astype(int)
    changed = np.any(images[0] != images[1], axis=-1)  # (64, 64)
    coverage = ds.coverage[ds.geometry_index(base[None])[0]]  # (3, 64, 64)
    assert not np.any(changed & (coverage[region] == 0))  # nothing outside the region changes
    assert changed[coverage[region] > 0.5].mean() > 0.95  # and (nearly) all of it does


def test_images_are_the_coloured_coverage(ds):
    factors = ds.sample_factors(6, np.random.default_rng(0))
    images = ds.images(ds.factors_to_index(factors))
    assert images.shape == (6, 64, 64, 3) and images.dtype == np.uint8
    for f, image in zip(factors, images):
        coverage = scene3d.shaded_coverage(
            int(f[4]), ds.factor_values[3][f[3:4]], ds.factor_values[5][f[5:6]]
        )[0]  # (3, 64, 64)
        rgb = scene3d.hue_to_rgb(np.arange(10) / 10)[f[:3]]  # (3 regions, 3 channels)
        expected = np.einsum("rhw,rc->hwc", coverage, rgb) * 255
        assert np.abs(image - expected).max() <= 0.51


def test_geometry_is_rendered_lazily_per_request():
    fresh = ProceduralShapes3D(supersample=1)
    factors = np.array([[0, 0, 0, 1, 2, 3], [5, 5, 5, 1, 2, 3], [0, 0, 0, 2, 2, 3]])
    fresh.images(fresh.factors_to_index(factors))
    assert fresh.rendered.sum() == 2  # two distinct (scale, shape, orientation)


# -- the h5 file --------------------------------------------------------------------

SMALL = {
    "floor_hue": (0, 2),
    "wall_hue": (3, 4),
    "object_hue": (0, 2),
    "scale": (0, 2),
    "orientation": (0, 3),
}


@pytest.fixture(scope="module")
def small():
    return FactorRanges(ProceduralShapes3D(supersample=1), SMALL)  # 2 * 1 * 2 * 2 * 4 * 3 = 96 items


def test_rendered_h5_reads_back(tmp_path, small, monkeypatch):
    path = write_shapes3d_h5(tmp_path / "s.h5", small)
    loaded = Shapes3D(path, expected_sizes=None)
    assert loaded.factor_sizes == small.factor_sizes == (2, 1, 2, 2, 4, 3)
    index = np.array([95, 3, 3, 40, 0, 41, 42, 43, 44, 45])  # unsorted, repeated, a dense run
    monkeypatch.setattr(shapes3d, "BLOCK", 16)  # exercise both whole-block and point reads
    monkeypatch.setattr(shapes3d, "DENSE", 3)
    np.testing.assert_array_equal(loaded.images(index), small.images(index))
    np.testing.assert_allclose(loaded.factor_values[1], [0.3])
    info = loaded.describe()
    assert info["source"] == "procedural-file" and info["size_bytes"] == path.stat().st_size


def make_h5(path, images=None, labels=None, drop=None):
    """An h5 laid out like the real file, on the grid (2, 1, 1, 1, 2, 3)."""
    sizes = (2, 1, 1, 1, 2, 3)
    n = int(np.prod(sizes))
    classes = np.stack(np.unravel_index(np.arange(n), sizes), axis=1)
    labels = classes * 0.1 if labels is None else labels
    images = (
        np.arange(n, dtype=np.uint8)[:, None, None, None] + np.zeros((1, 64, 64, 3), np.uint8)
        if images is None
        else images
    )
    with h5py.File(path, "w") as f:
        for key, value in (("images", images), ("labels", labels)):
            if key != drop:
                f.create_dataset(key, data=value)
    return path


def test_real_layout_reads_as_real(tmp_path):
    ds = Shapes3D(make_h5(tmp_path / "s.h5"), expected_sizes=None)
    assert ds.factor_sizes == (2, 1, 1, 1, 2, 3)
    np.testing.assert_array_equal(ds.images(np.array([11, 0, 5]))[:, 0, 0, 0], [11, 0, 5])
    assert ds.describe()["source"] == "real"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"drop": "labels"}, "no dataset 'labels'; expected 'images' and 'labels', found \\['images'\\]"),
        ({"images": np.zeros((12, 32, 32, 3), np.uint8)}, r"'images' must be \(N, 64, 64, 3\) uint8"),
        ({"images": np.zeros((12, 64, 64, 3), np.float32)}, "uint8, got .* float32"),
        ({"labels": np.zeros((12, 5))}, r"'labels' must be \(12, 6\) float"),
        ({"labels": np.zeros((12, 6))}, "not a full factor grid"),
    ],
)
def test_malformed_h5_is_named_with_what_was_expected(tmp_path, kwargs, message):
    with pytest.raises(DataError, match=message) as error:
        Shapes3D(make_h5(tmp_path / "bad.h5", **kwargs), expected_sizes=None)
    assert "bad.h5" in str(error.value)


def test_truncated_and_foreign_files(tmp_path):
    path = make_h5(tmp_path / "cut.h5")
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(DataError, match=r"cut\.h5 is not a readable HDF5 file"):
        Shapes3D(path, expected_sizes=None)
    text = tmp_path / "3dshapes.h5"
    text.write_text("not hdf5")
    with pytest.raises(DataError, match="not a readable HDF5"):
        data.load("shapes3d", data_dir=tmp_path)


def test_real_grid_is_required_by_default(tmp_path):
    make_h5(tmp_path / "3dshapes.h5")
    with pytest.raises(DataError, match=r"expected \(10, 10, 10, 8, 4, 15\)"):
        data.load("shapes3d", data_dir=tmp_path)
