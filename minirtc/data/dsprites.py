"""dSprites (docs/data.md): the real `.npz` and a procedural version on exactly its factor grid.

Grid: color (1), shape (3: square, ellipse, heart), scale (6: 0.5..1),
orientation (40), posX (32: 0..1), posY (32: 0..1) = 737,280 binary 64 x 64
images, row index the mixed-radix number of the classes with posY fastest.

- `ProceduralDSprites` renders images on demand from the shapes' geometric
  definitions (`sprites.py`): deterministic, O(batch), no file needed.  Its
  orientations are k * 2pi / 40, k = 0..39 (the real file's values run
  linspace(0, 2pi, 40), so its first and last orientation coincide).
- `DSprites` reads the real file (or one `write_dsprites_npz` made): headers and
  labels are checked on opening, the 3 GB `imgs` member is read only when images
  are first asked for, memory-mapped if stored uncompressed, else decompressed
  once in row chunks, optionally into the 1-bit packed form (`packed=True`,
  368 MiB instead of 2.8 GiB).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from minirtc.data import sprites
from minirtc.data.base import GroundTruthDataset, check_index, grid_labels
from minirtc.data.files import (
    DataError,
    StreamedArray,
    describe_file,
    npz_array,
    npz_header,
    npz_keys,
    npz_memmap,
    npz_rows,
    open_npz,
    write_npz,
)
from minirtc.progress import track

FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
FACTOR_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (1, 3, 6, 40, 32, 32)
IMAGE_SIDE = 64
KEYS = ("imgs", "latents_classes", "latents_values")
ORIGIN_KEY = "minirtc_origin"  # a member our own renders carry, so they are never taken for the real data
PROCEDURAL_ORIGIN = "minirtc dsprites-procedural render"
RENDER_CHUNK = 8192  # items rendered at a time: bounds the working memory to ~100 MB


def factor_values() -> tuple[np.ndarray, ...]:
    """The value of each class of each factor (the file's `latents_values` columns)."""
    return (
        np.array([1.0]),  # color: white
        np.array([1.0, 2.0, 3.0]),  # shape: square, ellipse, heart
        np.linspace(0.5, 1.0, 6),  # scale
        np.arange(40) * (2 * np.pi / 40),  # orientation in radians
        np.linspace(0.0, 1.0, 32),  # posX
        np.linspace(0.0, 1.0, 32),  # posY
    )


def render_factors(classes: np.ndarray, values: tuple[np.ndarray, ...]) -> np.ndarray:
    """Binary images (B, 64, 64, 1) uint8 of dSprites factor classes (B, 6)."""
    shape = values[1][classes[:, 1]].astype(np.int64) - 1  # shape values are 1, 2, 3
    images = sprites.render_sprites(
        shape,
        values[2][classes[:, 2]],
        values[3][classes[:, 3]],
        values[4][classes[:, 4]],
        values[5][classes[:, 5]],
        size=IMAGE_SIDE,
    )
    return images[..., None]


class ProceduralDSprites(GroundTruthDataset):
    """dSprites rendered on demand from geometry: the real grid and index order, no file."""

    name = "dsprites-procedural"
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    image_shape = (IMAGE_SIDE, IMAGE_SIDE, 1)
    pixel_max = 1

    def __init__(self, workers: int = 2):
        """`workers` threads render large requests (NumPy releases the GIL); 1 renders in this thread."""
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.factor_values = factor_values()

    def images(self, index: np.ndarray) -> np.ndarray:
        index = check_index(index, len(self), self.name)
        chunks = [index[i : i + RENDER_CHUNK] for i in range(0, len(index), RENDER_CHUNK)]
        if len(chunks) <= 1:
            return render_factors(self.index_to_factors(index), self.factor_values)
        out = np.empty((len(index), *self.image_shape), dtype=np.uint8)

        def render_into(start: int, chunk: np.ndarray) -> None:
            out[start : start + len(chunk)] = render_factors(self.index_to_factors(chunk), self.factor_values)

        with ThreadPoolExecutor(min(self.workers, len(chunks))) as pool:
            list(pool.map(render_into, range(0, len(index), RENDER_CHUNK), chunks))
        return out

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "source": "procedural", "renderer": "minirtc.data.sprites"}


class DSprites(GroundTruthDataset):
    """The dSprites `.npz` (docs/data.md), checked on opening, images read lazily."""

    name = "dsprites"
    factor_names = FACTOR_NAMES
    image_shape = (IMAGE_SIDE, IMAGE_SIDE, 1)
    pixel_max = 1

    def __init__(
        self, path: str | Path, expected_sizes: tuple[int, ...] | None = FACTOR_SIZES, packed: bool = False
    ):
        """Open and check `path`; `expected_sizes=None` accepts any grid the file's labels declare."""
        self.path = Path(path)
        self.packed = packed
        if not self.path.exists():
            raise DataError(
                f"dSprites file not found at {self.path}; run `minirtc data fetch dsprites` "
                "or use the procedural version `dsprites-procedural`, which needs no file"
            )
        with open_npz(self.path) as archive:
            keys = npz_keys(archive)
            missing = [k for k in KEYS if k not in keys]
            if missing:
                raise DataError(f"{self.path}: missing arrays {missing}; expected {list(KEYS)}, found {keys}")
            N = self.check_headers(archive)
            classes = npz_array(self.path, archive, "latents_classes")
            values = npz_array(self.path, archive, "latents_values")
            origin = npz_array(self.path, archive, ORIGIN_KEY) if ORIGIN_KEY in keys else np.array("real")
        self.origin = str(origin.reshape(-1)[0])  # "real", or the render's mark
        self.factor_sizes = grid_of_classes(self.path, classes, N, expected_sizes)
        self.factor_values = values_of_classes(self.path, classes, values, self.factor_sizes)
        self.store: np.ndarray | None = None  # (N, 64, 64) uint8 or (N, 64, 8) packed, filled on first use

    def check_headers(self, archive) -> int:
        """Check every member's shape and dtype from its header; return the number of images N."""
        imgs = npz_header(self.path, archive, "imgs")
        if len(imgs.shape) != 3 or imgs.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE) or imgs.dtype != np.uint8:
            raise DataError(f"{self.path}: 'imgs' must be (N, 64, 64) uint8, got {imgs.shape} {imgs.dtype}")
        N = imgs.shape[0]
        for key, kind in (("latents_classes", "iu"), ("latents_values", "f")):
            header = npz_header(self.path, archive, key)
            if header.shape != (N, len(FACTOR_NAMES)) or header.dtype.kind not in kind:
                expected = "integer" if kind == "iu" else "float"
                raise DataError(
                    f"{self.path}: {key!r} must be ({N}, {len(FACTOR_NAMES)}) {expected}, "
                    f"got {header.shape} {header.dtype}"
                )
        return N

    def load_store(self) -> np.ndarray:
        """The images member: memory-mapped when stored, else decompressed once (packed if asked)."""
        with open_npz(self.path) as archive:
            mapped = npz_memmap(self.path, archive, "imgs")
            if mapped is not None:
                return mapped
            N = self.grid_size
            store = np.empty((N, IMAGE_SIDE, IMAGE_SIDE // 8 if self.packed else IMAGE_SIDE), np.uint8)
            start = 0
            for chunk in npz_rows(self.path, archive, "imgs", RENDER_CHUNK):
                check_binary(self.path, chunk)
                store[start : start + len(chunk)] = pack_images(chunk) if self.packed else chunk
                start += len(chunk)
            return store

    def images(self, index: np.ndarray) -> np.ndarray:
        index = check_index(index, len(self), self.name)
        if self.store is None:
            self.store = self.load_store()
        batch = np.asarray(self.store[index])  # (B, 64, 64), or (B, 64, 8) when packed
        if batch.shape[-1] != IMAGE_SIDE:
            batch = unpack_images(batch)
        elif isinstance(self.store, np.memmap):
            check_binary(self.path, batch)  # a mapped member is checked batch by batch
        return batch[..., None]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **describe_file(self.path, self.origin)}


def grid_of_classes(
    path: Path, classes: np.ndarray, N: int, expected_sizes: tuple[int, ...] | None
) -> tuple[int, ...]:
    """Factor sizes declared by label classes (N, K), checked to be a full grid in mixed-radix order."""
    sizes = tuple(int(s) for s in classes.max(axis=0) + 1) if N else ()
    if expected_sizes is not None and sizes != tuple(expected_sizes):
        raise DataError(f"{path}: the labels declare factor sizes {sizes}, expected {tuple(expected_sizes)}")
    if N == 0 or classes.min() < 0 or int(np.prod(sizes)) != N:
        raise DataError(f"{path}: {N} rows do not form a full factor grid (classes give sizes {sizes})")
    if not np.array_equal(np.ravel_multi_index(tuple(classes.T), sizes), np.arange(N)):
        raise DataError(f"{path}: rows are not in mixed-radix order of their classes (last factor fastest)")
    return sizes


def values_of_classes(
    path: Path, classes: np.ndarray, values: np.ndarray, sizes: tuple[int, ...]
) -> tuple[np.ndarray, ...]:
    """The value of each class of each factor, checked to be a function of the class."""
    table = []
    for k, size in enumerate(sizes):
        column = np.zeros(size)
        column[classes[:, k]] = values[:, k]
        if not np.allclose(column[classes[:, k]], values[:, k]):
            raise DataError(f"{path}: latents_values column {k} is not a function of latents_classes")
        table.append(column)
    return tuple(table)


def check_binary(path: Path, images: np.ndarray) -> None:
    """dSprites pixels must be 0 or 1."""
    if images.size and images.max() > 1:
        raise DataError(f"{path}: 'imgs' must hold only 0 and 1, found {int(images.max())}")


def pack_images(images: np.ndarray) -> np.ndarray:
    """Binary images (..., W) -> bits packed along the last axis (..., ceil(W / 8)) uint8."""
    return np.packbits(images, axis=-1)


def unpack_images(packed: np.ndarray, width: int = IMAGE_SIDE) -> np.ndarray:
    """The inverse of `pack_images`: (..., ceil(W / 8)) -> (..., W) uint8 in {0, 1}."""
    return np.unpackbits(packed, axis=-1, count=width)


def write_dsprites_npz(
    dest: str | Path, dataset: GroundTruthDataset, compress: bool = True, progress: bool = False
) -> Path:
    """Write every item of a dSprites-like dataset as an `.npz` in the real file's format; atomic.

    Images are rendered and written in chunks, so memory stays O(chunk).  A
    `minirtc_origin` member marks the file as a render, not the real data.
    `progress`: a bar over the chunks (one line per tenth in a log).
    """
    if dataset.image_shape != (IMAGE_SIDE, IMAGE_SIDE, 1) or dataset.num_factors != len(FACTOR_NAMES):
        raise ValueError(f"{dataset.name} is not dSprites-like (6 factors, 64 x 64 x 1 images)")
    classes, values = grid_labels(dataset)  # (N, 6) each
    N = len(classes)
    starts = track(range(0, N, RENDER_CHUNK), "render dsprites", unit="chunk", enabled=progress)
    chunks = (dataset.images(np.arange(i, min(i + RENDER_CHUNK, N)))[..., 0] for i in starts)
    arrays = {
        "imgs": StreamedArray((N, IMAGE_SIDE, IMAGE_SIDE), np.dtype(np.uint8), chunks),
        "latents_classes": classes,
        "latents_values": values,
        ORIGIN_KEY: np.array(PROCEDURAL_ORIGIN),
    }
    return write_npz(dest, arrays, compress=compress)
