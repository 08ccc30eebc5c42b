"""Smaller views of a dataset for classroom runs: factor ranges and random subsets.

- `FactorRanges` restricts the GRID itself: `{"posX": (0, 16)}` keeps posX classes
  0..15 and renumbers them 0..15.  The result is a full, smaller ground-truth
  dataset: the metrics sample from the restricted grid.
- `Subset` keeps the grid and trains on N of its points drawn without replacement
  from a seed.  `len`, `images` and `indices` (the grid index of each item, sorted)
  describe the N items; `sample_factors`, `factors_to_index` and
  `sample_observations_from_factors` still use the FULL grid, as the metrics
  (docs/metrics.md) need.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from minirtc.data.base import GroundTruthDataset, check_index


class FactorRanges(GroundTruthDataset):
    """The sub-grid of `parent` where factor k takes classes lo_k <= c < hi_k, renumbered from 0."""

    def __init__(self, parent: GroundTruthDataset, ranges: Mapping[str, tuple[int, int]]):
        unknown = [name for name in ranges if name not in parent.factor_names]
        if unknown:
            raise ValueError(
                f"unknown factors {unknown} for {parent.name}; factors are {list(parent.factor_names)}"
            )
        lows, highs = [], []
        for name, size in zip(parent.factor_names, parent.factor_sizes):
            lo, hi = ranges.get(name, (0, size))
            if not (0 <= lo < hi <= size):
                raise ValueError(f"range for {name} must satisfy 0 <= lo < hi <= {size}, got ({lo}, {hi})")
            lows.append(int(lo))
            highs.append(int(hi))
        self.parent = parent
        self.ranges = {name: (lo, hi) for name, lo, hi in zip(parent.factor_names, lows, highs)}
        self.offset = np.array(lows, dtype=np.int64)  # (K,) the parent class of class 0
        self.name = parent.name
        self.factor_names = parent.factor_names
        self.factor_sizes = tuple(hi - lo for lo, hi in zip(lows, highs))
        self.image_shape = parent.image_shape
        self.pixel_max = parent.pixel_max
        if hasattr(parent, "factor_values"):
            self.factor_values = tuple(v[lo:hi] for v, lo, hi in zip(parent.factor_values, lows, highs))

    def parent_index(self, index: np.ndarray) -> np.ndarray:
        """The parent's flat index (B,) of flat indices (B,) of this sub-grid."""
        return self.parent.factors_to_index(self.index_to_factors(index) + self.offset)

    def images(self, index: np.ndarray) -> np.ndarray:
        index = check_index(index, len(self), self.name)
        return self.parent.grid_images(self.parent_index(index))

    def describe(self) -> dict[str, Any]:
        full = dict(zip(self.factor_names, self.parent.factor_sizes))
        restricted = {name: list(r) for name, r in self.ranges.items() if r != (0, full[name])}
        return {
            **self.parent.describe(),
            "num_items": len(self),
            "factor_sizes": list(self.factor_sizes),
            "factor_ranges": restricted,
        }


class Subset(GroundTruthDataset):
    """`size` items of `parent` drawn without replacement from `seed`; the grid stays the parent's."""

    def __init__(self, parent: GroundTruthDataset, size: int, seed: int = 0):
        if not 1 <= size <= len(parent):
            raise ValueError(f"subset size must be 1..{len(parent)} (the size of {parent.name}), got {size}")
        self.parent = parent
        self.seed = seed
        rng = np.random.default_rng(seed)
        self._indices = np.sort(parent.indices[rng.choice(len(parent), size=size, replace=False)])  # (N,)
        self.name = parent.name
        self.factor_names = parent.factor_names
        self.factor_sizes = parent.factor_sizes
        self.image_shape = parent.image_shape
        self.pixel_max = parent.pixel_max
        if hasattr(parent, "factor_values"):
            self.factor_values = parent.factor_values

    def __len__(self) -> int:
        return len(self._indices)

    @property
    def indices(self) -> np.ndarray:
        return self._indices

    def images(self, index: np.ndarray) -> np.ndarray:
        index = check_index(index, len(self), self.name)
        return self.parent.grid_images(self._indices[index])

    def grid_images(self, grid_index: np.ndarray) -> np.ndarray:
        return self.parent.grid_images(grid_index)

    def item_factors(self, index: np.ndarray) -> np.ndarray:
        index = check_index(index, len(self), self.name)
        return self.index_to_factors(self._indices[index])

    def describe(self) -> dict[str, Any]:
        return {
            **self.parent.describe(),
            "num_items": len(self),
            "subset": {"size": len(self), "seed": self.seed, "of": self.grid_size},
            "metrics_grid": "full grid of factor_sizes; training uses the subset's items",
        }
