"""The `Ops` of the torch backend: the same names as `numpy_ops`, on torch tensors.

Everything stays on the tensor's device and dtype; nothing here synchronises
with the host.
"""

from __future__ import annotations

from typing import Any

import numpy as onp
import torch

from minirtc.densities import LOG_2PI, LOGSUMEXP_FLOOR

SLICE_ELEMENTS = 2**18  # elements per slice of log_mixture on CPU (1 MiB float32: stays in cache)
DEVICE_SLICE_ELEMENTS = 2**22  # on an accelerator: big enough that each kernel pays for its launch


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
# give the derivatives): a few rows of L at a time, nothing of that size kept for
# the backward pass, which rebuilds each slice.  Here L is laid out (c, D, C), the
# components j last, so that the logsumexp over j and its max run along contiguous
# memory.  With t = (z_ik - mu_jk) s_jk, s = exp(-logvar / 2):
# L = a_jk - t^2 / 2, a = -(log 2pi + logvar) / 2,
# dL/dz_ik = -t s_jk, dL/dmu_jk = t s_jk, dL/dlogvar_jk = (t^2 - 1) / 2.


def _row_slices(M: int, C: int, D: int, device: torch.device) -> list[slice]:
    elements = SLICE_ELEMENTS if device.type == "cpu" else DEVICE_SLICE_ELEMENTS
    rows = max(1, elements // max(1, C * D))
    return [slice(start, min(start + rows, M)) for start in range(0, M, rows)]


def _by_latent(mu, logvar):
    """mu, s = exp(-logvar / 2) and a = -(log 2pi + logvar) / 2, each transposed to (D, C)."""
    return (
        mu.T.contiguous(),
        torch.exp(-0.5 * logvar).T.contiguous(),
        (-0.5 * (LOG_2PI + logvar)).T.contiguous(),
    )


def _slice_terms(z_rows, muT, sT, aT):
    """t and L = a - t^2 / 2, both (c, D, C), for the rows z_rows (c, D)."""
    t = (z_rows[:, :, None] - muT).mul_(sT)  # (c, D, C)
    return t, torch.addcmul(aT, t, t, value=-0.5)


def _exp_shifted(x, shift):
    """exp(x - shift) with x - shift floored at LOGSUMEXP_FLOOR (see minirtc.densities); in place on x."""
    return x.sub_(shift).clamp_min_(LOGSUMEXP_FLOOR).exp_()


def _logsumexp(x, dim: int):
    """logsumexp along `dim` of x, whose terms are floored like `_exp_shifted`; x is overwritten."""
    shift = x.amax(dim, keepdim=True)
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    return _exp_shifted(x, shift).sum(dim).log_().add_(shift.squeeze(dim))


class LogMixture(torch.autograd.Function):
    """(log q(z_i) (M,), log q(z_ik) (M, D)) from z (M, D), mu and logvar (C, D), log_weights (M, C).

    Written so that torch.vmap (the many-seeds trainer) can batch it; in-place
    updates touch only tensors made inside the slice.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(z, mu, logvar, log_weights):
        muT, sT, aT = _by_latent(mu, logvar)  # (D, C) each
        log_qz, log_qz_marginals = [], []
        for rows in _row_slices(z.shape[0], mu.shape[0], z.shape[1], z.device):
            _, L = _slice_terms(z[rows], muT, sT, aT)  # (c, D, C)
            logW = log_weights[rows]  # (c, C)
            joint = L.sum(1).add_(logW)  # (c, C): logW_ij + sum_k L_ikj
            log_qz.append(_logsumexp(joint, 1))  # (c,)
            log_qz_marginals.append(_logsumexp(L.add_(logW[:, None, :]), 2))  # (c, D)
        return torch.cat(log_qz), torch.cat(log_qz_marginals)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs, *output)

    @staticmethod
    def backward(ctx, g_qz, g_marginals):  # cotangents (M,) and (M, D)
        z, mu, logvar, log_weights, log_qz, log_qz_marginals = ctx.saved_tensors
        muT, sT, aT = _by_latent(mu, logvar)  # (D, C) each
        grad_z, grad_mu, sum_At2, sum_A = [], 0.0, 0.0, 0.0
        for rows in _row_slices(z.shape[0], mu.shape[0], z.shape[1], z.device):
            t, L = _slice_terms(z[rows], muT, sT, aT)  # (c, D, C)
            logW = log_weights[rows]  # (c, C)
            joint = L.sum(1).add_(logW)  # (c, C)
            # A = dOut/dL: the marginals' softmax weights over j times their cotangent, plus the joint's
            joint_weight = _exp_shifted(joint, log_qz[rows, None]).mul_(g_qz[rows, None])  # (c, C)
            A = _exp_shifted(L.add_(logW[:, None, :]), log_qz_marginals[rows, :, None])  # (c, D, C)
            A = A.mul_(g_marginals[rows, :, None]).add_(joint_weight[:, None, :])
            At = A * t  # (c, D, C)
            sum_At2 = sum_At2 + (At * t).sum(0)  # (D, C)
            sum_A = sum_A + A.sum(0)  # (D, C)
            B = At.mul_(sT)  # (c, D, C): A t s
            grad_z.append(-B.sum(2))  # (c, D)
            grad_mu = grad_mu + B.sum(0)  # (D, C)
        return torch.cat(grad_z), grad_mu.T, 0.5 * (sum_At2 - sum_A).T, None
