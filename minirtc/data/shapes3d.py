"""Shapes3D (docs/data.md): the real `3dshapes.h5` and a procedural version on its factor grid.

Grid: floor_hue (10), wall_hue (10), object_hue (10), scale (8: 0.75..1.25),
shape (4: cube, cylinder, sphere, capsule), orientation (15: -30..30 degrees) =
480,000 RGB 64 x 64 images, orientation fastest.

- `ProceduralShapes3D` ray-casts each of the 480 geometries (scale, shape,
  orientation) once, when first needed (`scene3d.py`), and colours them per item:
  image = sum over regions of shaded coverage * rgb(hue).
- `Shapes3D` reads the h5 (datasets `images` (N, 64, 64, 3) uint8 and `labels`
  (N, 6) float64) with h5py: checked on opening, images read per request in
  sorted order, whole blocks where a request is dense.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from minirtc.data import scene3d
from minirtc.data.base import GroundTruthDataset, check_index, grid_labels
from minirtc.data.files import DataError, atomic_path, describe_file
from minirtc.progress import track

FILENAME = "3dshapes.h5"
FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
IMAGE_SHAPE = (64, 64, 3)
BLOCK = 4096  # rows per h5 read block
DENSE = 64  # a block with more requested rows than this is read whole
ORIGIN_ATTR = "minirtc_origin"  # an attribute our own renders carry
PROCEDURAL_ORIGIN = "minirtc shapes3d-procedural render"
COMPOSE_CHUNK = 2048  # items coloured at a time


def factor_values() -> tuple[np.ndarray, ...]:
    """The value of each class of each factor (the h5 `labels` columns)."""
    hues = np.arange(10) / 10
    return (hues, hues, hues, np.linspace(0.75, 1.25, 8), np.arange(4.0), np.linspace(-30.0, 30.0, 15))


class ProceduralShapes3D(GroundTruthDataset):
    """Shapes3D rendered from a small ray-cast scene: the real grid and index order, no file."""

    name = "shapes3d-procedural"
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    image_shape = IMAGE_SHAPE
    pixel_max = 255

    def __init__(self, supersample: int = 2):
        """`supersample`: rays per pixel side (2 = 4 rays a pixel, anti-aliased edges)."""
        if supersample < 1:
            raise ValueError(f"supersample must be >= 1, got {supersample}")
        self.supersample = supersample
        self.factor_values = factor_values()
        # the geometry (scale, shape, orientation) -> shaded coverage table, filled as items are asked for
        self.n_geometry = FACTOR_SIZES[3] * FACTOR_SIZES[4] * FACTOR_SIZES[5]
        self.coverage = np.zeros((self.n_geometry, 3, *IMAGE_SHAPE[:2]), dtype=np.float32)  # (480, 3, H, W)
        self.rendered = np.zeros(self.n_geometry, dtype=bool)
        self.palette = scene3d.hue_to_rgb(self.factor_values[0]).astype(np.float32)  # (10, 3)

    def geometry_index(self, factors: np.ndarray) -> np.ndarray:
        """Row (B,) of the geometry table for factor classes (B, 6): scale, shape, orientation."""
        return np.ravel_multi_index(tuple(factors[:, 3:].T), FACTOR_SIZES[3:])

    def render_geometries(self, rows: np.ndarray) -> None:
        """Ray-cast the geometry rows not rendered yet, one call per shape."""
        missing = np.unique(rows[~self.rendered[rows]])
        scale, shape, orientation = np.unravel_index(missing, FACTOR_SIZES[3:])
        for k in np.unique(shape):
            these = missing[shape == k]
            self.coverage[these] = scene3d.shaded_coverage(
                int(k),
                self.factor_values[3][scale[shape == k]],
                self.factor_values[5][orientation[shape == k]],
                size=IMAGE_SHAPE[0],
                supersample=self.supersample,
            )
        self.rendered[missing] = True

    def images(self, index: np.ndarray) -> np.ndarray:
        index = check_index(index, len(self), self.name)
        out = np.empty((len(index), *IMAGE_SHAPE), dtype=np.uint8)
        for start in range(0, len(index), COMPOSE_CHUNK):
            factors = self.index_to_factors(index[start : start + COMPOSE_CHUNK])  # (B, 6)
            rows = self.geometry_index(factors)
            self.render_geometries(rows)
            rgb = self.palette[factors[:, :3]]  # (B, 3 regions, 3 channels)
            H, W, C = IMAGE_SHAPE
            coverage = (
                self.coverage[rows].reshape(len(rows), 3, H * W).transpose(0, 2, 1)
            )  # (B, HW, 3 regions)
            image = np.matmul(coverage, rgb).reshape(len(rows), H, W, C)  # sum_r W_r rgb_r, in [0, 1]
            out[start : start + len(rows)] = np.rint(np.clip(image, 0.0, 1.0) * 255)
        return out

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "source": "procedural", "renderer": "minirtc.data.scene3d"}


class Shapes3D(GroundTruthDataset):
    """The Shapes3D h5 (docs/data.md), checked on opening; images read in sorted blocks on request."""

    name = "shapes3d"
    factor_names = FACTOR_NAMES
    image_shape = IMAGE_SHAPE
    pixel_max = 255

    def __init__(self, path: str | Path, expected_sizes: tuple[int, ...] | None = FACTOR_SIZES):
        """Open and check `path`; `expected_sizes=None` accepts any grid the labels declare."""
        import h5py

        self.path = Path(path)
        if not self.path.exists():
            raise DataError(
                f"Shapes3D file not found at {self.path}; run `minirtc data fetch shapes3d` "
                "or use the procedural version `shapes3d-procedural`, which needs no file"
            )
        try:
            with h5py.File(self.path, "r") as f:
                labels = self.check_layout(f)
                self.origin = str(f.attrs.get(ORIGIN_ATTR, "real"))
        except OSError as error:
            raise DataError(
                f"{self.path} is not a readable HDF5 file; truncated or corrupt? ({error})"
            ) from None
        self.factor_values, classes = classes_of_labels(labels)
        self.factor_sizes = tuple(len(v) for v in self.factor_values)
        if expected_sizes is not None and self.factor_sizes != tuple(expected_sizes):
            raise DataError(
                f"{self.path}: the labels declare factor sizes {self.factor_sizes}, "
                f"expected {tuple(expected_sizes)}"
            )
        N = len(labels)
        if int(np.prod(self.factor_sizes)) != N or not np.array_equal(
            np.ravel_multi_index(tuple(classes.T), self.factor_sizes), np.arange(N)
        ):
            raise DataError(
                f"{self.path}: rows are not a full factor grid in mixed-radix order (last fastest)"
            )

    def check_layout(self, f) -> np.ndarray:
        """Check the `images` and `labels` datasets' shapes and dtypes; return the labels (N, 6)."""
        import h5py

        for key in ("images", "labels"):
            if not isinstance(f.get(key), h5py.Dataset):
                raise DataError(
                    f"{self.path}: no dataset {key!r}; expected 'images' and 'labels', found {list(f)}"
                )
        images, labels = f["images"], f["labels"]
        if images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE or images.dtype != np.uint8:
            raise DataError(
                f"{self.path}: 'images' must be (N, 64, 64, 3) uint8, got {images.shape} {images.dtype}"
            )
        expected = (images.shape[0], len(FACTOR_NAMES))
        if labels.shape != expected or labels.dtype.kind != "f":
            raise DataError(
                f"{self.path}: 'labels' must be {expected} float, got {labels.shape} {labels.dtype}"
            )
        return labels[()]

    def images(self, index: np.ndarray) -> np.ndarray:
        import h5py

        index = check_index(index, len(self), self.name)
        wanted, inverse = np.unique(index, return_inverse=True)  # h5py reads sorted, distinct rows
        out = np.empty((len(wanted), *IMAGE_SHAPE), dtype=np.uint8)
        try:
            with h5py.File(self.path, "r") as f:
                read_rows(f["images"], wanted, out)
        except OSError as error:
            raise DataError(f"{self.path}: cannot read images; truncated or corrupt? ({error})") from None
        return out[inverse]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **describe_file(self.path, self.origin)}


def read_rows(dataset, rows: np.ndarray, out: np.ndarray) -> None:
    """out[i] = dataset[rows[i]] for sorted distinct rows, block by block: dense blocks read whole."""
    blocks = rows // BLOCK
    for block in np.unique(blocks):
        mine = np.flatnonzero(blocks == block)
        if len(mine) > DENSE:
            lo = int(block) * BLOCK
            chunk = dataset[lo : min(lo + BLOCK, dataset.shape[0])]
            out[mine] = chunk[rows[mine] - lo]
        else:
            out[mine] = dataset[rows[mine]]


def classes_of_labels(labels: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Each factor's sorted distinct values and the class (N, K) of every row's labels (N, K)."""
    values, classes = [], []
    for column in np.round(labels, 6).T:
        distinct, cls = np.unique(column, return_inverse=True)
        values.append(distinct)
        classes.append(cls.reshape(-1))
    return tuple(values), np.stack(classes, axis=1)


def write_shapes3d_h5(
    dest: str | Path, dataset: GroundTruthDataset, chunk: int = BLOCK, progress: bool = False
) -> Path:
    """Write every item of a Shapes3D-like dataset as an h5 in the real file's layout (gzip); atomic.

    `progress`: a bar over the chunks (one line per tenth in a log).
    """
    import h5py

    if dataset.image_shape != IMAGE_SHAPE or dataset.num_factors != len(FACTOR_NAMES):
        raise ValueError(f"{dataset.name} is not Shapes3D-like (6 factors, 64 x 64 x 3 images)")
    _, labels = grid_labels(dataset)  # (N, 6) factor values
    N = len(labels)
    with atomic_path(dest) as tmp, h5py.File(tmp, "w") as f:
        f.attrs[ORIGIN_ATTR] = PROCEDURAL_ORIGIN
        f.create_dataset("labels", data=labels)
        images = f.create_dataset(
            "images",
            shape=(N, *IMAGE_SHAPE),
            dtype=np.uint8,
            chunks=(min(N, 256), *IMAGE_SHAPE),
            compression="gzip",
        )
        for start in track(range(0, N, chunk), "render shapes3d", unit="chunk", enabled=progress):
            images[start : start + chunk] = dataset.images(np.arange(start, min(start + chunk, N)))
    return Path(dest)
