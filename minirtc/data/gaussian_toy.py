"""`gaussian`: a tiny ground-truth dataset whose "images" are C-vectors, for fast tests.

K factors, each with n classes whose values are standard-normal quantiles
f = Phi^-1((c + 0.5) / n), so a uniformly drawn class is a discretised N(0, 1).
An item is the vector

    x = sigmoid(gain * A f)        A (C, K) with orthonormal columns

stored as uint8 round(255 x) of shape (1, 1, C) (pixel_max 255): values in
[0, 1] that a Bernoulli decoder models, and a mixing that a linear encoder can
undo, so a good model recovers the factors up to rotation.  A is fixed by
`mixing_seed` (the QR factor of a standard-normal matrix drawn from it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, ndtri

from minirtc.data.base import GroundTruthDataset, check_index, class_values


class GaussianToy(GroundTruthDataset):
    """Discretised Gaussian factors mixed linearly and squashed into (1, 1, C) uint8 "images"."""

    name = "gaussian"
    pixel_max = 255

    def __init__(
        self,
        factor_sizes: tuple[int, ...] = (8, 8, 8, 8),
        channels: int = 8,
        gain: float = 1.5,
        mixing_seed: int = 0,
    ):
        K = len(factor_sizes)
        if K < 1 or min(factor_sizes) < 1:
            raise ValueError(f"factor_sizes must be positive, got {factor_sizes}")
        if channels < K:
            raise ValueError(f"channels ({channels}) must be >= the number of factors ({K})")
        self.factor_names = tuple(f"f{k}" for k in range(K))
        self.factor_sizes = tuple(int(n) for n in factor_sizes)
        self.image_shape = (1, 1, channels)
        self.gain = gain
        self.mixing_seed = mixing_seed
        self.factor_values = tuple(ndtri((np.arange(n) + 0.5) / n) for n in self.factor_sizes)
        rng = np.random.default_rng(mixing_seed)
        self.mixing, _ = np.linalg.qr(rng.standard_normal((channels, K)))  # A (C, K), A^T A = I

    def images(self, index: np.ndarray) -> np.ndarray:
        index = check_index(index, len(self), self.name)
        classes = self.index_to_factors(index)  # (B, K)
        f = class_values(self.factor_values, classes)  # (B, K)
        x = expit(self.gain * f @ self.mixing.T)  # (B, C) in (0, 1)
        return np.rint(x * 255).astype(np.uint8).reshape(len(index), *self.image_shape)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "source": "procedural",
            "gain": self.gain,
            "mixing_seed": self.mixing_seed,
        }
