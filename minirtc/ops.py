"""The few array operations the core math needs, looked up by array type.

The core (densities, estimators, penalties, objectives) is written ONCE against
the `Ops` interface below.  Each backend supplies one small class with these
names (`minirtc.backends.numpy_ops.NumpyOps` on `autograd.numpy`,
`minirtc.backends.torch_ops.TorchOps` on torch), in the spirit of the Python
array API and of einops' `_backends.py`.  Plain arithmetic (`+ - * / **`),
slicing with `None` and `.shape` work the same on every array type and are used
directly.

The core never imports a backend module by name: `ops_for(x)` finds the class
from a table of dotted paths and imports it lazily, so `import minirtc` works
without torch installed and the NumPy path never touches torch.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import numpy as onp

Array = Any  # a numpy array, an autograd ArrayBox or a torch.Tensor


class Ops(Protocol):
    """The operations interface. Every backend class provides all of these."""

    name: str

    def asarray(self, value: Any, like: Array) -> Array:
        """`value` (NumPy or scalar) as an array of `like`'s kind, dtype and device."""

    def to_numpy(self, x: Array) -> onp.ndarray:
        """A detached float copy on the host."""

    def exp(self, x: Array) -> Array: ...

    def log(self, x: Array) -> Array: ...

    def sum(self, x: Array, axis: int | None = None) -> Array: ...

    def mean(self, x: Array, axis: int | None = None) -> Array: ...

    def logsumexp(self, x: Array, axis: int) -> Array: ...

    def logaddexp(self, a: Array, b: Array) -> Array: ...

    def softplus(self, x: Array) -> Array:
        """log(1 + exp(x)), exact for every x."""

    def matmul(self, a: Array, b: Array) -> Array: ...

    def transpose(self, x: Array) -> Array:
        """Swap the last two axes."""

    def concatenate(self, xs: list[Array], axis: int = 0) -> Array: ...

    def stack(self, xs: list[Array], axis: int = 0) -> Array: ...

    def take_rows(self, x: Array, index: Array) -> Array:
        """`out[i, k] = x[index[i, k], k]` for an integer `index` of x's shape."""

    def argsort_random(self, shape: tuple[int, int], rng: Any, like: Array) -> Array:
        """Each column an independent uniform permutation of `range(shape[0])`."""

    def diagonal(self, x: Array) -> Array:
        """The diagonal of a square matrix."""

    def log_mixture(self, z: Array, mu: Array, logvar: Array, log_weights: Any) -> tuple[Array, Array]:
        """log q(z_i) (M,) and log q(z_ik) (M, D) of a weighted diagonal-Gaussian mixture.

        z (M, D); components mu, logvar (C, D); log_weights (M, C) NumPy, a constant.
        log q(z_i) = logsumexp_j (log_weights[i, j] + sum_k L[i, j, k]) and
        log q(z_ik) = logsumexp_j (log_weights[i, j] + L[i, j, k]), with
        L[i, j, k] = log N(z_ik; mu_jk, exp(logvar_jk)); differentiable in z, mu, logvar.
        """


# Array type (by the top-level module that defines it) -> the backend's Ops class.
_OPS_CLASSES = {
    "numpy": "minirtc.backends.numpy_ops:NumpyOps",
    "autograd": "minirtc.backends.numpy_ops:NumpyOps",
    "torch": "minirtc.backends.torch_ops:TorchOps",
}
_CACHE: dict[str, Ops] = {}


def ops_by_name(name: str) -> Ops:
    """The Ops of a backend module family: "numpy", "autograd" or "torch"."""
    if name not in _OPS_CLASSES:
        raise ValueError(f"unknown array family {name!r}; known: {sorted(_OPS_CLASSES)}")
    if name not in _CACHE:
        module_name, class_name = _OPS_CLASSES[name].split(":")
        _CACHE[name] = getattr(importlib.import_module(module_name), class_name)()
    return _CACHE[name]


def ops_for(x: Array) -> Ops:
    """The Ops that handle arrays like `x` (numpy, autograd-traced numpy, or torch)."""
    family = type(x).__module__.split(".")[0]
    if family in ("builtins", "numpy") or onp.isscalar(x):
        family = "numpy"
    if family not in _OPS_CLASSES:
        raise TypeError(
            f"minirtc cannot compute with arrays of type {type(x).__name__} "
            f"(module {type(x).__module__}); use numpy arrays or torch tensors"
        )
    return ops_by_name(family)


def check_same_shape(a: Array, b: Array, a_name: str, b_name: str) -> None:
    """A ValueError naming both arguments when two arrays that must match do not."""
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{a_name} has shape {tuple(a.shape)} but {b_name} has shape {tuple(b.shape)}; they must match"
        )
