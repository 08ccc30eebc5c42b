"""The `Ops` of the NumPy backend, on `autograd.numpy` so `autograd.grad` traces them.

Every function here accepts plain NumPy arrays and autograd's traced ArrayBoxes.
No torch import anywhere on this path (the classroom runs without torch).
"""

from __future__ import annotations

from typing import Any

import autograd.numpy as np
import numpy as onp
from autograd.extend import defvjp_argnums, primitive

from minirtc.densities import LOG_2PI, LOGSUMEXP_FLOOR

SLICE_ELEMENTS = 2**17  # (rows, components, latents) elements per slice of log_mixture: ~0.5 MiB


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

    def log_mixture(self, z, mu, logvar, log_weights):
        """log q(z_i) (M,) and log q(z_ik) (M, D) of the weighted mixture (see `minirtc.ops.Ops`)."""
        packed = log_mixture_packed(z, mu, logvar, onp.asarray(log_weights, dtype=_dtype(z, mu, logvar)))
        return packed[:, 0], packed[:, 1:]

    def diagonal(self, x):
        # autograd differentiates np.diagonal only over the last two axes, in this order
        return np.diagonal(x, axis1=-1, axis2=-2)


# ---------------------------------------------------------------------------
# The Gaussian mixture log densities, slice by slice, with a hand-written gradient
# ---------------------------------------------------------------------------
#
# L[i, j, k] = log N(z_ik; mu_jk, exp(logvar_jk)) is M x C x D numbers.  Built whole,
# it and every intermediate autograd keeps for the backward pass stream through
# memory many times.  Here it is built a few rows of i at a time (a slice that
# stays in cache), the forward pass keeps only the (M, 1 + D) results, and the
# backward pass rebuilds each slice from z, mu, logvar.  With d = z_ik - mu_jk and
# p = exp(-logvar_jk):  dL/dz_ik = -d p,  dL/dmu_jk = d p,  dL/dlogvar_jk = (d^2 p - 1) / 2,
# and the cotangent of a logsumexp over j reaches L[i, j, k] times its softmax weight.


def _dtype(*arrays) -> onp.dtype:
    return onp.result_type(*[getattr(a, "_value", a) for a in arrays])


def _row_slices(M: int, C: int, D: int) -> list[slice]:
    rows = max(1, SLICE_ELEMENTS // max(1, C * D))
    return [slice(start, min(start + rows, M)) for start in range(0, M, rows)]


def _log_normal_slice(z_rows, mu, logvar, inv_var):
    """d (c, C, D) = z_ik - mu_jk and L (c, C, D) = log N(z_ik; mu_jk, exp(logvar_jk))."""
    d = z_rows[:, None, :] - mu[None, :, :]
    return d, -0.5 * (LOG_2PI + logvar + d * d * inv_var)


def _exp_shifted(x, shift):
    """exp(x - shift), x - shift floored at LOGSUMEXP_FLOOR (see minirtc.densities)."""
    return onp.exp(onp.maximum(x - shift, LOGSUMEXP_FLOOR))


def _logsumexp(x, axis):
    shift = onp.max(x, axis=axis, keepdims=True)
    shift = onp.where(onp.isfinite(shift), shift, 0.0)
    return onp.log(onp.sum(_exp_shifted(x, shift), axis=axis)) + onp.squeeze(shift, axis=axis)


@primitive
def log_mixture_packed(z, mu, logvar, log_weights):
    """(M, 1 + D): column 0 log q(z_i) = logsumexp_j (logW_ij + sum_k L_ijk), columns 1.. log q(z_ik).

    z (M, D), mu and logvar (C, D), log_weights (M, C).
    """
    M, D = z.shape
    out = onp.empty((M, D + 1), dtype=_dtype(z, mu, logvar))
    inv_var = onp.exp(-logvar)  # (C, D)
    for rows in _row_slices(M, mu.shape[0], D):
        _, L = _log_normal_slice(z[rows], mu, logvar, inv_var)  # (c, C, D)
        logW = log_weights[rows]  # (c, C)
        out[rows, 0] = _logsumexp(logW + onp.sum(L, axis=2), axis=1)
        out[rows, 1:] = _logsumexp(logW[:, :, None] + L, axis=1)
    return out


def _log_mixture_vjp(argnums, ans, args, kwargs):
    z, mu, logvar, log_weights = args

    def vjp(g):  # g (M, 1 + D): cotangents of log q(z_i) and of log q(z_ik)
        grad_z, grad_mu, grad_logvar = onp.zeros_like(z), onp.zeros_like(mu), onp.zeros_like(logvar)
        inv_var = onp.exp(-logvar)  # (C, D)
        for rows in _row_slices(*z.shape[:1], mu.shape[0], z.shape[1]):
            d, L = _log_normal_slice(z[rows], mu, logvar, inv_var)  # (c, C, D)
            logW = log_weights[rows]  # (c, C)
            joint_weight = _exp_shifted(logW + onp.sum(L, axis=2), ans[rows, :1])  # (c, C) softmax over j
            marginal_weight = _exp_shifted(logW[:, :, None] + L, ans[rows, None, 1:])  # (c, C, D)
            A = g[rows, None, 1:] * marginal_weight + (g[rows, :1] * joint_weight)[:, :, None]  # dOut/dL
            B = A * d * inv_var  # (c, C, D)
            grad_z[rows] = -onp.sum(B, axis=1)
            grad_mu += onp.sum(B, axis=0)
            grad_logvar += 0.5 * onp.sum(B * d - A, axis=0)
        grads = {0: grad_z, 1: grad_mu, 2: grad_logvar}
        return tuple(grads[n] for n in argnums)

    return vjp


defvjp_argnums(log_mixture_packed, _log_mixture_vjp)
