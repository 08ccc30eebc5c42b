"""3D faces: the user-supplied array file in each format, on a small grid made here."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from minirtc import data
from minirtc.data.faces3d import Faces3D
from minirtc.data.files import DataError

GRID = (2, 3, 2, 2)


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    """(2, 3, 2, 2, 64, 64) uint8 whose every image is filled with its own flat index."""
    n = int(np.prod(GRID))
    return (np.arange(n, dtype=np.uint8)[:, None, None] * np.ones((1, 64, 64), np.uint8)).reshape(
        *GRID, 64, 64
    )


def check_reads(path, faces):
    ds = Faces3D(path, expected_sizes=GRID)
    assert ds.factor_sizes == GRID and len(ds) == 24 and ds.pixel_max == 255
    factors = np.array([[1, 2, 0, 1], [0, 0, 0, 0]])
    images = ds.sample_observations_from_factors(factors, None)
    assert images.shape == (2, 64, 64, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[0, ..., 0], faces[1, 2, 0, 1])
    np.testing.assert_array_equal(images[1, ..., 0], faces[0, 0, 0, 0])
    info = ds.describe()
    assert info["source"] == "real" and info["path"] == str(path.resolve())


def test_npy(tmp_path, faces):
    np.save(tmp_path / "f.npy", faces)
    check_reads(tmp_path / "f.npy", faces)
    assert isinstance(Faces3D(tmp_path / "f.npy", expected_sizes=GRID).array, np.memmap)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz(tmp_path, faces, save):
    save(tmp_path / "f.npz", images=faces)
    check_reads(tmp_path / "f.npz", faces)


@pytest.mark.torch
def test_pth(tmp_path, faces):
    torch = pytest.importorskip("torch")
    torch.save(torch.from_numpy(faces.copy()), tmp_path / "f.pth")
    check_reads(tmp_path / "f.pth", faces)


@pytest.mark.torch
def test_pth_faults_name_the_file(tmp_path, faces):
    torch = pytest.importorskip("torch")
    (tmp_path / "cut.pth").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError, match=r"cut\.pth is not a readable torch file"):
        Faces3D(tmp_path / "cut.pth", expected_sizes=GRID)
    torch.save({"a": torch.zeros(2), "b": torch.zeros(2)}, tmp_path / "two.pth")
    with pytest.raises(DataError, match=r"two\.pth: expected a tensor \(or a dict holding one\), found dict"):
        Faces3D(tmp_path / "two.pth", expected_sizes=GRID)


def test_pth_without_torch_says_what_to_do(tmp_path, monkeypatch):
    (tmp_path / "f.pth").write_bytes(b"anything")
    monkeypatch.setitem(sys.modules, "minirtc.backends.torch_io", None)  # as if torch were absent
    with pytest.raises(DataError, match=r"f\.pth: reading a \.pth needs PyTorch; save the array as \.npy"):
        Faces3D(tmp_path / "f.pth", expected_sizes=GRID)


def test_float_pixels_become_0_255(tmp_path, faces):
    np.save(tmp_path / "f.npy", faces.astype(np.float32) / 255)
    check_reads(tmp_path / "f.npy", faces)
    np.save(tmp_path / "g.npy", faces.astype(np.float32))  # 0..23, not in [0, 1]
    with pytest.raises(DataError, match=r"g\.npy: float pixels must lie in \[0, 1\]"):
        Faces3D(tmp_path / "g.npy", expected_sizes=GRID).images(np.arange(24))


def test_wrong_shape_names_the_expected_one(tmp_path, faces):
    np.save(tmp_path / "f.npy", faces[..., :32, :32])
    with pytest.raises(DataError, match=r"f\.npy: expected an array of shape \(2, 3, 2, 2, 64, 64\)"):
        Faces3D(tmp_path / "f.npy", expected_sizes=GRID)
    np.save(tmp_path / "basel_face_renders.npy", faces)
    with pytest.raises(DataError, match=r"expected an array of shape \(50, 21, 11, 11, 64, 64\), got \(2, 3"):
        data.load("faces3d", data_dir=tmp_path)


def test_wrong_dtype(tmp_path, faces):
    np.save(tmp_path / "f.npy", faces.astype(np.int32))
    with pytest.raises(DataError, match="uint8 .* or float .*, got int32"):
        Faces3D(tmp_path / "f.npy", expected_sizes=GRID)


def test_truncated_npy(tmp_path, faces):
    np.save(tmp_path / "f.npy", faces)
    raw = (tmp_path / "f.npy").read_bytes()
    (tmp_path / "f.npy").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"f\.npy is not a readable \.npy"):
        Faces3D(tmp_path / "f.npy", expected_sizes=GRID)


def test_npz_with_several_arrays(tmp_path, faces):
    np.savez(tmp_path / "f.npz", a=faces, b=faces)
    with pytest.raises(DataError, match=r"expected one array \(or one named 'images'\), found \['a', 'b'\]"):
        Faces3D(tmp_path / "f.npz", expected_sizes=GRID)


def test_unknown_suffix(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(DataError, match=r"expected a \.npy, \.npz or \.pth file"):
        Faces3D(tmp_path / "f.txt")


def test_missing_file_explains_the_licence(tmp_path):
    with pytest.raises(DataError, match="Basel Face Model.*non-commercial.*basel_face_renders.npy"):
        data.load("faces3d", data_dir=tmp_path)
