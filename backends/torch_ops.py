"""The `Ops` of the torch backend: the same names as `numpy_ops`, on torch tensors.

Everything stays on the tensor's device and dtype; nothing here synchronises
with the host.
"""

from __future__ import annotations

from typing import Any

import numpy as onp
import torch

from minirtc.densities import LOG_2PI

SLICE_ELEMENTS = 2**18  # (rows, components, latents) elements per slice of log_mixture: 1 MiB in float32


class TorchOps:
    """Array operations for torch tensors on any device (see `minirtc.ops.Ops`)."""

    name = "torch"

    def asarray(self, value: Any, like: torch.Tensor) -> torch.Tensor:
        dtype = like.dtype if like.is_floating_point() else torch.float64
        if isinstance(value, torch.Tensor):
            return value.to(dtype=dtype, device=like.device)
        return torch.as_tensor(onp.asarray(value), dtype=dtype, device=like.device)

    def to_numpy(self, x: torch.Tensor) -> onp.ndarray:
        return x.detach().to("cpu", torch.float64).numpy()

    def exp(self, x):
        return torch.exp(x)

    def log(self, x):
        return torch.log(x)

    def sum(self, x, axis=None):
        return torch.sum(x) if axis is None else torch.sum(x, dim=axis)

    def mean(self, x, axis=None):
        return torch.mean(x) if axis is None else torch.mean(x, dim=axis)

    def logsumexp(self, x, axis):
        return torch.logsumexp(x, dim=axis)

    def logaddexp(self, a, b):
        return torch.logaddexp(a, b)

    def softplus(self, x):
        # logaddexp, not F.softplus: the latter turns linear past a threshold (inexact)
        return torch.logaddexp(torch.zeros_like(x), x)

    def matmul(self, a, b):
        return torch.matmul(a, b)

    def transpose(self, x):
        return torch.transpose(x, -1, -2)

    def concatenate(self, xs, axis=0):
        return torch.cat(xs, dim=axis)

    def stack(self, xs, axis=0):
        return torch.stack(xs, dim=axis)

    def take_rows(self, x, index):
        return torch.gather(x, 0, index)

    def argsort_random(self, shape, rng, like):
        if not isinstance(rng, torch.Generator):
            raise TypeError("the torch backend needs rng to be a torch.Generator")
        u = torch.rand(shape, generator=rng, device=rng.device)
        return torch.argsort(u, dim=0).to(like.device)

    def log_mixture(self, z, mu, logvar, log_weights):
        """log q(z_i) (M,) and log q(z_ik) (M, D) of the weighted mixture (see `minirtc.ops.Ops`)."""
        log_weights = self.asarray(log_weights, like=z)
        return LogMixture.apply(z, mu, logvar, log_weights)

    def diagonal(self, x):
        return torch.diagonal(x, dim1=-2, dim2=-1)


# ---------------------------------------------------------------------------
# The Gaussian mixture log densities, slice by slice, with a hand-written gradient
# ---------------------------------------------------------------------------
# The same computation as the NumPy backend's `log_mixture_packed` (its comments
# give the derivatives): a few rows of the (M, C, D) tensor at a time, nothing of
# that size kept for the backward pass, which rebuilds each slice.


def _row_slices(M: int, C: int, D: int) -> list[slice]:
    rows = max(1, SLICE_ELEMENTS // max(1, C * D))
    return [slice(start, min(start + rows, M)) for start in range(0, M, rows)]


def _log_normal_slice(z_rows, mu, logvar, inv_var):
    """d (c, C, D) = z_ik - mu_jk and L (c, C, D) = log N(z_ik; mu_jk, exp(logvar_jk))."""
    d = z_rows[:, None, :] - mu[None, :, :]
    return d, -0.5 * (LOG_2PI + logvar + d * d * inv_var)


class LogMixture(torch.autograd.Function):
    """(log q(z_i) (M,), log q(z_ik) (M, D)) from z (M, D), mu and logvar (C, D), log_weights (M, C).

    Written without in-place writes so that torch.vmap (the many-seeds trainer) can batch it.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(z, mu, logvar, log_weights):
        inv_var = torch.exp(-logvar)  # (C, D)
        log_qz, log_qz_marginals = [], []
        for rows in _row_slices(z.shape[0], mu.shape[0], z.shape[1]):
            _, L = _log_normal_slice(z[rows], mu, logvar, inv_var)  # (c, C, D)
            logW = log_weights[rows]  # (c, C)
            log_qz.append(torch.logsumexp(logW + L.sum(2), dim=1))  # (c,)
            log_qz_marginals.append(torch.logsumexp(logW[:, :, None] + L, dim=1))  # (c, D)
        return torch.cat(log_qz), torch.cat(log_qz_marginals)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs, *output)

    @staticmethod
    def backward(ctx, g_qz, g_marginals):  # cotangents (M,) and (M, D)
        z, mu, logvar, log_weights, log_qz, log_qz_marginals = ctx.saved_tensors
        inv_var = torch.exp(-logvar)  # (C, D)
        grad_z, grad_mu, grad_logvar = [], 0.0, 0.0
        for rows in _row_slices(z.shape[0], mu.shape[0], z.shape[1]):
            d, L = _log_normal_slice(z[rows], mu, logvar, inv_var)  # (c, C, D)
            logW = log_weights[rows]  # (c, C)
            joint_weight = torch.exp(logW + L.sum(2) - log_qz[rows, None])  # (c, C) softmax over j
            marginal_weight = torch.exp(logW[:, :, None] + L - log_qz_marginals[rows, None, :])  # (c, C, D)
            A = g_marginals[rows, None, :] * marginal_weight + (g_qz[rows, None] * joint_weight)[:, :, None]
            B = A * d * inv_var  # (c, C, D)
            grad_z.append(-B.sum(1))
            grad_mu = grad_mu + B.sum(0)
            grad_logvar = grad_logvar + 0.5 * (B * d - A).sum(0)
        return torch.cat(grad_z), grad_mu, grad_logvar, None
