"""The one interface every ground-truth dataset offers (docs/data.md).

A ground-truth dataset is a full grid of discrete generative factors, one image
per grid point, stored in mixed-radix order with the LAST factor fastest (as in
dSprites and Shapes3D).  Training needs `len` and `images`; the metrics (docs/metrics.md)
need the factor methods.

Images are uint8, channels last, (B, H, W, C), in the file's own range: dSprites
stores {0, 1} and RGB sets 0..255.  `pixel_max` says which value means 1.0, and
`to_unit_float` turns a batch into floats in [0, 1] (what the decoders model).

Items and grid points.  A dataset's ITEMS are what training sees: `len(ds)` of
them, fetched with `ds.images(items)`.  Its GRID is the full factor grid that the
metrics sample from: `factors_to_index` / `index_to_factors` / `grid_images` /
`sample_observations_from_factors` speak of grid indices.  For every dataset the
two coincide, except a random subset (`minirtc.data.subsets.Subset`), whose items
are a sample of the grid points listed in `ds.indices`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np


class GroundTruthDataset(ABC):
    """Images on a full grid of discrete factors, indexed in mixed-radix order."""

    name: str  # the registry name, e.g. "dsprites-procedural"
    factor_names: tuple[str, ...]  # (K,)
    factor_sizes: tuple[int, ...]  # (K,) number of values of each factor
    image_shape: tuple[int, int, int]  # (H, W, C)
    pixel_max: int  # the uint8 value that means 1.0 (1 for dSprites, 255 for RGB)

    # -- what subclasses provide -------------------------------------------

    @abstractmethod
    def images(self, index: np.ndarray) -> np.ndarray:
        """uint8 images (B, H, W, C) of the items at `index` (B,), 0 <= index < len; O(B) cost."""

    def grid_images(self, grid_index: np.ndarray) -> np.ndarray:
        """uint8 images (B, H, W, C) at flat GRID indices (B,); the same as `images` but for subsets."""
        return self.images(grid_index)

    def describe(self) -> dict[str, Any]:
        """What a run directory records about the data: name, source, sizes."""
        return {
            "name": self.name,
            "source": getattr(self, "source", "procedural"),
            "num_items": len(self),
            "factor_names": list(self.factor_names),
            "factor_sizes": list(self.factor_sizes),
            "image_shape": list(self.image_shape),
        }

    # -- the grid, shared by every dataset -------------------------------------

    @property
    def num_factors(self) -> int:
        return len(self.factor_sizes)

    def __len__(self) -> int:
        return self.grid_size

    @property
    def grid_size(self) -> int:
        """Number of points on the factor grid (the product of the factor sizes)."""
        return int(np.prod(self.factor_sizes))

    @property
    def indices(self) -> np.ndarray:
        """Grid index of each item (len,): the whole grid, except for a subset."""
        return np.arange(self.grid_size, dtype=np.int64)

    def item_factors(self, index: np.ndarray) -> np.ndarray:
        """Factor classes (B, K) of the items at `index` (B,) (differs from index_to_factors for subsets)."""
        return self.index_to_factors(index)

    def factors_to_index(self, factors: np.ndarray) -> np.ndarray:
        """Flat indices (B,) of factor classes (B, K); last factor fastest."""
        factors = np.asarray(factors)
        if factors.ndim != 2 or factors.shape[1] != self.num_factors:
            raise ValueError(
                f"factors must have shape (B, {self.num_factors}) for {self.name}, got {factors.shape}"
            )
        sizes = np.asarray(self.factor_sizes)
        if np.any(factors < 0) or np.any(factors >= sizes[None, :]):
            raise ValueError(f"factor classes out of range for {self.name}; sizes are {self.factor_sizes}")
        return np.ravel_multi_index(tuple(factors.T), self.factor_sizes).astype(np.int64)

    def index_to_factors(self, index: np.ndarray) -> np.ndarray:
        """Factor classes (B, K) of flat grid indices (B,)."""
        index = np.asarray(index)
        if np.any(index < 0) or np.any(index >= self.grid_size):
            raise ValueError(f"index out of range for {self.name} (0..{self.grid_size - 1})")
        return np.stack(np.unravel_index(index, self.factor_sizes), axis=1).astype(np.int64)

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n factor vectors (n, K), each factor uniform over its values."""
        return np.stack([rng.integers(0, size, n) for size in self.factor_sizes], axis=1)

    def sample_observations_from_factors(self, factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """uint8 images (B, H, W, C) for factor vectors (B, K).

        The rng is for datasets whose factors do not fix the image (none here yet);
        it is part of the interface the metrics call.  Always on the full grid.
        """
        return self.grid_images(self.factors_to_index(factors))


def check_index(index: np.ndarray, size: int, name: str) -> np.ndarray:
    """`index` as an int64 vector (B,) with 0 <= index < size, else a ValueError naming `name`."""
    index = np.asarray(index)
    if index.ndim != 1:
        raise ValueError(f"index for {name} must be a vector (B,), got shape {index.shape}")
    if index.size and not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"index for {name} must hold integers, got dtype {index.dtype}")
    index = index.astype(np.int64, copy=False)
    if index.size and (index.min() < 0 or index.max() >= size):
        raise ValueError(f"index out of range for {name}: expected 0..{size - 1}")
    return index


def class_values(factor_values: Sequence[np.ndarray], classes: np.ndarray) -> np.ndarray:
    """Values (B, K) of factor classes (B, K), given each factor's value per class (K arrays)."""
    return np.stack([values[classes[:, k]] for k, values in enumerate(factor_values)], axis=1)


def grid_labels(dataset: GroundTruthDataset) -> tuple[np.ndarray, np.ndarray]:
    """Classes (N, K) and values (N, K) of every grid point in index order (what label arrays hold)."""
    if len(dataset) != dataset.grid_size:
        raise ValueError(
            f"a random subset of {dataset.name} is not a full grid; restrict factor ranges instead"
        )
    classes = dataset.index_to_factors(np.arange(len(dataset)))
    return classes, class_values(dataset.factor_values, classes)


def to_unit_float(images: np.ndarray, pixel_max: int, dtype: Any = np.float32) -> np.ndarray:
    """uint8 images in 0..pixel_max -> floats in [0, 1]."""
    return images.astype(dtype) * (1.0 / pixel_max)
