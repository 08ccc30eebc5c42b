"""The `Ops` of the torch backend: the same names as `numpy_ops`, on torch tensors.

Everything stays on the tensor's device and dtype; nothing here synchronises
with the host.
"""

from __future__ import annotations

from typing import Any

import numpy as onp
import torch


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

    def diagonal(self, x):
        return torch.diagonal(x, dim1=-2, dim2=-1)
