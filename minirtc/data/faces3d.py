"""3D faces (docs/data.md): Basel Face Model renders, a file the user supplies.

50 identities x 21 azimuths x 11 elevations x 11 lightings of 64 x 64 grey
images, as ONE array of shape (50, 21, 11, 11, 64, 64) in a `.npy`, an `.npz`
(one array, or one named `images`) or a torch `.pth` (torch is imported only
for `.pth`).  uint8 arrays are read as 0..255; float arrays must lie in [0, 1]
and are rounded to 0..255.  The renders cannot be downloaded: the Basel Face
Model is licensed for non-commercial research by the University of Basel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from minirtc.data.base import GroundTruthDataset, check_index
from minirtc.data.files import DataError, describe_file, npz_array, npz_header, npz_keys, npz_memmap, open_npz

FILENAMES = ("basel_face_renders.npy", "basel_face_renders.npz", "basel_face_renders.pth")
FACTOR_NAMES = ("identity", "azimuth", "elevation", "lighting")
FACTOR_SIZES = (50, 21, 11, 11)
IMAGE_SIDE = 64

LICENCE_NOTE = (
    "The 3D faces renders come from the Basel Face Model 2009, which the University of Basel licenses "
    "for non-commercial research only and which may not be redistributed, so minirtc cannot download "
    "them. Obtain the model under its licence (https://faces.dmi.unibas.ch/bfm/), render or obtain the "
    "50 x 21 x 11 x 11 images of 64 x 64, and save them as ONE array of shape (50, 21, 11, 11, 64, 64) "
    "(uint8 0..255 or float 0..1)"
)


def find_faces_file(data_dir: Path) -> Path | None:
    """The first of FILENAMES present in `data_dir`, else None."""
    return next((data_dir / n for n in FILENAMES if (data_dir / n).exists()), None)


def missing_faces_message(data_dir: Path) -> str:
    """What to tell a user who has no faces file."""
    where = " or ".join(str(data_dir / n) for n in FILENAMES)
    return f"no 3D faces file found. {LICENCE_NOTE} at {where}."


def open_array(path: Path) -> np.ndarray:
    """The array in a .npy (memory-mapped), .npz (mapped when stored, else read) or .pth file."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as error:
            raise DataError(f"{path} is not a readable .npy; truncated or corrupt? ({error})") from None
    if suffix == ".npz":
        with open_npz(path) as archive:
            keys = npz_keys(archive)
            key = "images" if "images" in keys else (keys[0] if len(keys) == 1 else None)
            if key is None:
                raise DataError(f"{path}: expected one array (or one named 'images'), found {keys}")
            npz_header(path, archive, key)
            mapped = npz_memmap(path, archive, key)
            return mapped if mapped is not None else npz_array(path, archive, key)
    if suffix == ".pth":
        return load_torch_array(path)
    raise DataError(f"{path}: expected a .npy, .npz or .pth file")


def load_torch_array(path: Path) -> np.ndarray:
    """The tensor saved in a .pth (alone, or the only tensor of a dict) as a NumPy array."""
    try:
        from minirtc.backends.torch_io import load_tensor_array
    except ImportError:
        raise DataError(f"{path}: reading a .pth needs PyTorch; save the array as .npy instead") from None
    try:
        return load_tensor_array(path)
    except ValueError as error:
        raise DataError(str(error)) from None


class Faces3D(GroundTruthDataset):
    """The Basel 3D faces renders from a user-supplied array file."""

    name = "faces3d"
    factor_names = FACTOR_NAMES
    image_shape = (IMAGE_SIDE, IMAGE_SIDE, 1)
    pixel_max = 255

    def __init__(self, path: str | Path, expected_sizes: tuple[int, ...] | None = FACTOR_SIZES):
        """Open and check `path`; `expected_sizes=None` accepts any 4-factor grid of 64 x 64 images."""
        self.path = Path(path)
        if not self.path.exists():
            raise DataError(f"3D faces file not found at {self.path}. {LICENCE_NOTE}.")
        self.array = open_array(self.path)
        shape, dtype = self.array.shape, self.array.dtype
        expected = (*(expected_sizes or ("n",) * 4), IMAGE_SIDE, IMAGE_SIDE)
        ok_grid = len(shape) == 6 and shape[4:] == (IMAGE_SIDE, IMAGE_SIDE)
        if not ok_grid or (expected_sizes is not None and shape[:4] != tuple(expected_sizes)):
            raise DataError(f"{self.path}: expected an array of shape {expected}, got {shape}")
        if dtype != np.uint8 and dtype.kind != "f":
            raise DataError(f"{self.path}: expected uint8 (0..255) or float (0..1) pixels, got {dtype}")
        self.factor_sizes = tuple(int(s) for s in shape[:4])
        self.factor_values = tuple(np.arange(s, dtype=np.float64) for s in self.factor_sizes)
        self.flat = self.array.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)  # (N, 64, 64), a view

    def images(self, index: np.ndarray) -> np.ndarray:
        index = check_index(index, len(self), self.name)
        batch = np.asarray(self.flat[index])  # (B, 64, 64)
        if batch.dtype != np.uint8:
            if batch.size and (batch.min() < 0 or batch.max() > 1):
                raise DataError(f"{self.path}: float pixels must lie in [0, 1]")
            batch = np.rint(batch * 255).astype(np.uint8)
        return batch[..., None]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **describe_file(self.path)}
