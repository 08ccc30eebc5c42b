"""The torch backend: conv and MLP VAEs on any device, for full-scale runs.

It supplies the same surface as the NumPy backend, for the training step that
is written once in `minirtc/training/step.py`:

    Networks   init, encode, decode, discriminate (pure functions of a params
               dict, so `torch.func.vmap` maps them over stacked members), the
               images on the device
    Engine     value_and_grad (torch.autograd), map over K stacked members
               (vmap, or a loop for conv on CPU), fused Adam
    Random     permutations and normal draws from the run's torch.Generator

What this backend adds is speed: the whole training set lives on the device as
uint8 and batches are drawn there (no DataLoader, no per-step host copies), the
loss terms stay on the device until a log row needs them, and bf16 autocast is
available on CUDA.  The conv networks and their images use the channels-last
memory format (the uint8 NHWC array is already in it, so the device copy is the
array itself), and `Networks.compile` (`--compile`) puts them through torch.compile.
The networks themselves are in `torch_networks.py` (docs/training.md).
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from typing import Any, Callable

import numpy as onp
import torch
from torch.utils._pytree import tree_flatten, tree_map, tree_unflatten

from minirtc.backends.torch_networks import (
    DTYPES,
    VAE,
    Networks,
    compile_fallback_message,
    make_discriminator,
    numpy_copy,
    resolve_device,
)
from minirtc.backends.torch_ops import TorchOps

__all__ = [
    "VAE",
    "Adam",
    "Engine",
    "Networks",
    "Random",
    "compile_fallback_message",
    "make_adam",
    "make_discriminator",
    "name",
    "ops",
    "torch_threads",
]

name = "torch"
ops = TorchOps()


class Adam:
    """torch.optim.Adam (fused where it can be) over a params dict, with fixed lr and betas."""

    def __init__(self, lr: float, betas: tuple[float, float]):
        self.lr, self.betas = lr, tuple(betas)

    def init(self, params: dict[str, torch.Tensor]) -> torch.optim.Adam:
        return make_adam(params.values(), self.lr, self.betas)

    def update(self, params, grads, optimizer: torch.optim.Adam):
        """One Adam step (in place on the leaf tensors); returns them and the optimiser."""
        for name, param in params.items():
            grad = grads[name]
            if grad.stride() != param.stride():  # the fused kernel walks param and grad in memory order
                grad = torch.empty_like(param).copy_(grad)
            param.grad = grad
        optimizer.step()
        for param in params.values():
            param.grad = None
        return params, optimizer

    def to_numpy(self, optimizer: torch.optim.Adam, params: dict[str, torch.Tensor]) -> dict[str, Any]:
        """{"t": steps taken, "m": first moments, "v": second moments}, as the NumPy Adam keeps them."""
        states = [optimizer.state.get(p) for p in params.values()]
        if not states or not states[0]:
            zeros = {name: onp.zeros(tuple(p.shape), _numpy_dtype(p)) for name, p in params.items()}
            return {"t": 0, "m": zeros, "v": {k: v.copy() for k, v in zeros.items()}}
        moment = lambda key: {name: numpy_copy(s[key]) for name, s in zip(params, states)}  # noqa: E731
        return {"t": int(states[0]["step"]), "m": moment("exp_avg"), "v": moment("exp_avg_sq")}

    def from_numpy(self, saved: dict[str, Any], params: dict[str, torch.Tensor]) -> torch.optim.Adam:
        """A fresh optimiser over `params` holding the saved moments (none when t = 0)."""
        optimizer = self.init(params)
        if int(saved["t"]) == 0:
            return optimizer
        state = {}
        for index, (name, param) in enumerate(params.items()):
            state[index] = {
                "step": torch.tensor(float(saved["t"])),
                "exp_avg": _like(param, saved["m"][name]),
                "exp_avg_sq": _like(param, saved["v"][name]),
            }
        optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})
        return optimizer


def _like(param: torch.Tensor, array: onp.ndarray) -> torch.Tensor:
    """`array` as a tensor with param's dtype, device and memory layout."""
    out = torch.empty_like(param, requires_grad=False)
    with torch.no_grad():
        out.copy_(torch.from_numpy(onp.ascontiguousarray(array)))
    return out


def _numpy_dtype(t: torch.Tensor):
    return torch.empty((), dtype=t.dtype).numpy().dtype


def keep_freed_heap() -> bool:
    """Ask glibc to keep freed memory for reuse instead of handing it back to the OS.

    Otherwise the gradient buffers freed and reallocated every step are unmapped and mapped
    again each time, and a small MLP ensemble on CPU spends much of its step in page faults.
    Process-wide; False (nothing done) where libc is not glibc.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
    return bool(mallopt(M_TRIM_THRESHOLD, 1 << 30)) and bool(mallopt(M_MMAP_THRESHOLD, 32 << 20))


class Engine:
    """Gradients by torch.autograd; with `members=K`, every function mapped over K stacked members.

    Members never interact, so the gradient of the summed losses with respect to
    member k's slice of the stacked params is member k's own gradient.
    """

    def __init__(self, members: int | None = None, batch_networks: bool | None = None, nets=None):
        """`batch_networks`: map with torch.vmap (True) or a loop over the members (False);
        None = `default_batch_networks` for the arch and device of `nets`."""
        if batch_networks is None:
            batch_networks = nets is None or default_batch_networks(nets.arch, nets.device)
        self.members, self.batch_networks = members, batch_networks
        if members is not None and (nets is None or torch.device(nets.device).type == "cpu"):
            keep_freed_heap()  # K members' gradients: large buffers freed and taken again every step

    def map(self, fn: Callable) -> Callable:
        if self.members is None:
            return fn
        return torch.vmap(fn) if self.batch_networks else _one_by_one(fn, self.members)

    def value_and_grad(self, fn: Callable) -> Callable:
        """fn(params, ...) -> (loss, aux)  becomes  (...) -> ((loss, aux), d loss / d params)."""
        mapped = self.map(fn)

        def run(params, *args):
            loss, aux = mapped(params, *args)
            grads = torch.autograd.grad(loss.sum() if self.members else loss, list(params.values()))
            detached = tree_map(lambda t: t.detach() if isinstance(t, torch.Tensor) else t, (loss, aux))
            return detached, dict(zip(params, grads))

        return run

    def constant(self):
        """No gradient tracking for what only feeds another network's loss."""
        return torch.no_grad()

    def adam(self, lr: float, betas: tuple[float, float]) -> Adam:
        return Adam(lr, betas)

    def stack(self, values: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(values)


def default_batch_networks(arch: str, device: torch.device) -> bool:
    """Batched networks everywhere but conv on CPU.

    vmap turns K convolutions into one grouped convolution, which oneDNN runs about 30%
    slower than K separate ones (benchmarks/run.py, 2-core Xeon); on CPU the conv
    members' networks therefore run one after another inside the ensemble's step.
    """
    return not (arch == "conv" and torch.device(device).type == "cpu")


def _one_by_one(fn: Callable, K: int) -> Callable:
    """`fn` over the member axis like vmap, as a loop of K calls whose outputs are stacked.

    Arguments are split with `unbind`, whose backward stacks the K gradients in one go.
    """

    def run(*args):
        leaves, spec = tree_flatten(args)
        parts = [torch.unbind(leaf) for leaf in leaves]
        outputs = [fn(*tree_unflatten([p[k] for p in parts], spec)) for k in range(K)]
        flat = [tree_flatten(out) for out in outputs]
        stacked = [torch.stack(items) for items in zip(*(leaves for leaves, _ in flat))]
        return tree_unflatten(stacked, flat[0][1])

    return run


class Random:
    """The run's random draws: one torch.Generator on the run's device, seeded seed + 1."""

    def __init__(self, seed: int, device: str = "cpu"):
        self.device = resolve_device(device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed + 1)

    def permutation(self, n: int) -> torch.Tensor:
        return torch.randperm(n, generator=self.generator, device=self.device)

    def normal(self, shape: tuple[int, ...], dtype: str) -> torch.Tensor:
        return torch.randn(shape, generator=self.generator, device=self.device, dtype=DTYPES[dtype])

    def column_permutations(self, shape: tuple[int, int]) -> torch.Tensor:
        """(M, D): each column an independent permutation of range(M) (Kim & Mnih, Alg. 1)."""
        return ops.argsort_random(shape, self.generator, like=torch.empty(0, device=self.device))

    def get_state(self) -> onp.ndarray:
        return self.generator.get_state().numpy().copy()  # uint8 (bytes of the generator's state)

    def set_state(self, state: onp.ndarray) -> None:
        self.generator.set_state(torch.from_numpy(onp.asarray(state, dtype=onp.uint8)))

    def index_array(self, values: Any) -> torch.Tensor:
        return torch.as_tensor(onp.asarray(values), dtype=torch.int64, device=self.device)


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch's CPU threads set to `threads` while the block runs, then restored."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def make_adam(params: Any, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """torch.optim.Adam as one fused kernel where this torch has it (CPU or CUDA, torch >= 2.4).

    Same update rule; on CPU it measured 1.1 ms instead of 5.0 ms per step for the
    classroom MLP VAE with its discriminator (benchmarks/run.py's overhead section).
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError, ValueError):  # an older torch, or a dtype/device it cannot fuse
        return torch.optim.Adam(params, lr=lr, betas=betas)
