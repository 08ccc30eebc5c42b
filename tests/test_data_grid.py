"""The dataset interface: registry, mixed-radix index order, subsets and factor ranges."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from minirtc import data
from minirtc.data.base import check_index
from minirtc.data.dsprites import ProceduralDSprites, factor_values, render_factors
from minirtc.data.gaussian_toy import GaussianToy
from minirtc.data.subsets import FactorRanges, Subset


def test_registry_names_and_unknown_name():
    assert data.DATASETS == (
        "dsprites",
        "dsprites-procedural",
        "shapes3d",
        "shapes3d-procedural",
        "faces3d",
        "gaussian",
    )
    with pytest.raises(ValueError, match="choose one of dsprites, dsprites-procedural.*gaussian"):
        data.load("mnist")


def test_packed_only_for_dsprites():
    with pytest.raises(ValueError, match="packed"):
        data.load("gaussian", packed=True)


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIRTC_DATA", str(tmp_path / "env"))
    assert data.resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert data.resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("MINIRTC_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.resolve_data_dir() == tmp_path / "home" / ".cache" / "minirtc"


def test_missing_real_files_name_the_file_and_the_alternative(tmp_path):
    with pytest.raises(data.DataError, match="dsprites_ndarray.*fetch dsprites.*dsprites-procedural"):
        data.load("dsprites", data_dir=tmp_path)
    with pytest.raises(data.DataError, match="3dshapes.h5.*shapes3d-procedural"):
        data.load("shapes3d", data_dir=tmp_path)
    with pytest.raises(data.DataError, match="licen.*basel_face_renders"):
        data.load("faces3d", data_dir=tmp_path)


def test_info_lists_every_dataset_with_its_file(tmp_path):
    (tmp_path / "3dshapes.h5").write_bytes(b"12345")
    rows = {row["name"]: row for row in data.dataset_info(tmp_path)}
    assert set(rows) == set(data.DATASETS)
    assert rows["shapes3d"]["present"] and rows["shapes3d"]["size_bytes"] == 5
    assert not rows["dsprites"]["present"]
    assert rows["dsprites"]["path"] == str(tmp_path / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz")
    assert rows["gaussian"]["kind"] == "procedural" and rows["gaussian"]["path"] is None


def test_index_order_is_mixed_radix_last_factor_fastest():
    """Brute force: enumerating the grid with the last factor in the inner loop gives 0, 1, 2, ..."""
    ds = GaussianToy(factor_sizes=(3, 2, 4), channels=3)
    grid = np.array(list(itertools.product(*[range(n) for n in ds.factor_sizes])))  # (24, 3)
    np.testing.assert_array_equal(ds.factors_to_index(grid), np.arange(24))
    np.testing.assert_array_equal(ds.index_to_factors(np.arange(24)), grid)


def test_dsprites_index_is_the_real_files_order():
    """Row = the mixed-radix number of (color, shape, scale, orientation, posX, posY), posY fastest."""
    ds = ProceduralDSprites()
    strides = np.array([3 * 6 * 40 * 32 * 32, 6 * 40 * 32 * 32, 40 * 32 * 32, 32 * 32, 32, 1])
    factors = ds.sample_factors(50, np.random.default_rng(0))
    np.testing.assert_array_equal(ds.factors_to_index(factors), factors @ strides)
    assert len(ds) == 737_280
    np.testing.assert_array_equal(ds.index_to_factors(np.array([1]))[0], [0, 0, 0, 0, 0, 1])  # posY first


def test_image_at_index_is_the_render_of_its_factors():
    ds = ProceduralDSprites()
    factors = ds.sample_factors(40, np.random.default_rng(1))
    by_index = ds.images(ds.factors_to_index(factors))
    np.testing.assert_array_equal(by_index, render_factors(factors, factor_values()))
    np.testing.assert_array_equal(ds.sample_observations_from_factors(factors, None), by_index)


def test_check_index_rejects_bad_input():
    assert check_index([0, 4], 5, "x").dtype == np.int64
    with pytest.raises(ValueError, match="out of range for x"):
        check_index([5], 5, "x")
    with pytest.raises(ValueError, match="out of range"):
        check_index([-1], 5, "x")
    with pytest.raises(ValueError, match="integers"):
        check_index(np.array([0.5]), 5, "x")
    with pytest.raises(ValueError, match="vector"):
        check_index(np.zeros((2, 2), dtype=int), 5, "x")
    assert GaussianToy().images(np.array([], dtype=np.int64)).shape == (0, 1, 1, 8)


def test_factors_to_index_rejects_out_of_range_classes():
    ds = GaussianToy()
    with pytest.raises(ValueError, match="out of range"):
        ds.factors_to_index(np.array([[8, 0, 0, 0]]))


# -- subsets ----------------------------------------------------------------------


def test_subset_items_are_a_seeded_sample_and_the_grid_stays_full():
    full = GaussianToy()
    ds = data.load("gaussian", subset=100, seed=3)
    assert isinstance(ds, Subset) and len(ds) == 100
    assert np.all(np.diff(ds.indices) > 0)  # sorted and distinct
    np.testing.assert_array_equal(ds.indices, data.load("gaussian", subset=100, seed=3).indices)
    assert not np.array_equal(ds.indices, data.load("gaussian", subset=100, seed=4).indices)
    np.testing.assert_array_equal(ds.images(np.arange(100)), full.images(ds.indices))
    np.testing.assert_array_equal(ds.item_factors(np.arange(3)), full.index_to_factors(ds.indices[:3]))
    # the metrics' side: the full grid, including points outside the subset
    assert ds.factor_sizes == full.factor_sizes and ds.grid_size == len(full)
    outside = np.setdiff1d(np.arange(len(full)), ds.indices)[:5]
    factors = full.index_to_factors(outside)
    np.testing.assert_array_equal(ds.sample_observations_from_factors(factors, None), full.images(outside))
    with pytest.raises(ValueError, match="out of range"):
        ds.images(np.array([100]))


def test_subset_larger_than_dataset_is_a_clear_error():
    with pytest.raises(ValueError, match=r"subset size must be 1\.\.4096 \(the size of gaussian\), got 5000"):
        data.load("gaussian", subset=5000)


def test_subset_describe_records_the_draw():
    info = data.load("gaussian", subset=10, seed=2).describe()
    assert info["num_items"] == 10 and info["subset"] == {"size": 10, "seed": 2, "of": 4096}
    assert info["source"] == "procedural"


def test_factor_ranges_make_a_smaller_renumbered_grid():
    full = ProceduralDSprites()
    ds = data.load("dsprites-procedural", factor_ranges={"posX": (4, 8), "shape": (1, 3)})
    assert isinstance(ds, FactorRanges)
    assert ds.factor_sizes == (1, 2, 6, 40, 4, 32) and len(ds) == 2 * 6 * 40 * 4 * 32
    factors = ds.sample_factors(30, np.random.default_rng(0))
    shifted = factors + np.array([0, 1, 0, 0, 4, 0])
    np.testing.assert_array_equal(
        ds.sample_observations_from_factors(factors, None), full.images(full.factors_to_index(shifted))
    )
    np.testing.assert_array_equal(ds.factor_values[4], full.factor_values[4][4:8])
    assert ds.describe()["factor_ranges"] == {"shape": [1, 3], "posX": [4, 8]}


def test_factor_ranges_then_subset():
    ds = data.load("gaussian", factor_ranges={"f0": (0, 2)}, subset=50, seed=1)
    assert len(ds) == 50 and ds.factor_sizes == (2, 8, 8, 8)
    assert ds.item_factors(np.arange(50))[:, 0].max() <= 1


@pytest.mark.parametrize(
    "ranges, message",
    [
        ({"size": (0, 2)}, "unknown factors"),
        ({"f0": (3, 3)}, "0 <= lo < hi <= 8"),
        ({"f1": (0, 9)}, "got \\(0, 9\\)"),
    ],
)
def test_bad_factor_ranges(ranges, message):
    with pytest.raises(ValueError, match=message):
        data.load("gaussian", factor_ranges=ranges)


def test_every_procedural_dataset_describes_itself_as_procedural():
    for name in ("dsprites-procedural", "shapes3d-procedural", "gaussian"):
        info = data.load(name).describe()
        assert info["source"] == "procedural" and info["name"] == name


def test_to_unit_float_reexported():
    x = data.to_unit_float(np.array([0, 1], dtype=np.uint8), 1)
    np.testing.assert_array_equal(x, [0.0, 1.0])
