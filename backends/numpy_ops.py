"""The `Ops` of the NumPy backend, on `autograd.numpy` so `autograd.grad` traces them.

Every function here accepts plain NumPy arrays and autograd's traced ArrayBoxes.
No torch import anywhere on this path (the classroom runs without torch).
"""

from __future__ import annotations

from typing import Any

import autograd.numpy as np
import numpy as onp


class NumpyOps:
    """Array operations for NumPy / autograd arrays (see `minirtc.ops.Ops`)."""

    name = "numpy"

    def asarray(self, value: Any, like: Any) -> onp.ndarray:
        dtype = getattr(like, "dtype", onp.float64)
        if not onp.issubdtype(dtype, onp.floating):
            dtype = onp.float64
        return onp.asarray(value, dtype=dtype)

    def to_numpy(self, x: Any) -> onp.ndarray:
        return onp.array(getattr(x, "_value", x), dtype=onp.float64)

    def exp(self, x):
        return np.exp(x)

    def log(self, x):
        return np.log(x)

    def sum(self, x, axis=None):
        return np.sum(x, axis=axis)

    def mean(self, x, axis=None):
        return np.mean(x, axis=axis)

    def logsumexp(self, x, axis):
        # Shift by the max, held constant for autograd (the result does not depend on it);
        # cheaper than scipy's logsumexp, whose fixed cost dominates on small arrays.
        shift = onp.max(getattr(x, "_value", x), axis=axis, keepdims=True)
        shift = onp.where(onp.isfinite(shift), shift, 0.0)
        return np.log(np.sum(np.exp(x - shift), axis=axis)) + onp.squeeze(shift, axis=axis)

    def logaddexp(self, a, b):
        return np.logaddexp(a, b)

    def softplus(self, x):
        return np.logaddexp(0.0, x)

    def matmul(self, a, b):
        return np.matmul(a, b)

    def transpose(self, x):
        return np.swapaxes(x, -1, -2)

    def concatenate(self, xs, axis=0):
        return np.concatenate(xs, axis=axis)

    def stack(self, xs, axis=0):
        return np.stack(xs, axis=axis)

    def take_rows(self, x, index):
        columns = onp.arange(x.shape[1])[None, :]  # (1, D)
        return x[index, columns]

    def argsort_random(self, shape, rng, like):
        if not isinstance(rng, onp.random.Generator):
            raise TypeError("the NumPy backend needs rng to be a numpy.random.Generator")
        return onp.argsort(rng.random(shape), axis=0)

    def diagonal(self, x):
        # autograd differentiates np.diagonal only over the last two axes, in this order
        return np.diagonal(x, axis1=-1, axis2=-2)
