"""The torch backend's networks: conv and MLP VAEs and FactorVAE's discriminator (docs/training.md).

- `mlp`: the same layers as the NumPy backend, with parameters of the same
  names and shapes (W{l} is (in, out)), so weights move between backends as is;
- `conv`: Burgess et al. / Locatello et al.: conv 32-32-64-64 (4x4, stride 2),
  FC 256, FC 2D; the decoder mirrors it with transposed convolutions.

The nn.Modules only initialise the weights (and name them); `Networks` runs
them as pure functions of a params dict (`run_layers`, the modules' own
arithmetic), so that `torch.func.vmap` maps them over the stacked params of K
seeds at once.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable

import numpy as onp
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._pytree import tree_map

DTYPES = {"float32": torch.float32, "float64": torch.float64}

# ---------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------


class MLP(nn.Module):
    """Affine layers W{l} (in, out), b{l} with (leaky) ReLU between them."""

    def __init__(self, sizes: list[int], negative_slope: float = 0.0):
        super().__init__()
        self.negative_slope = negative_slope
        self.params = nn.ParameterDict()
        for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.params[f"W{layer}"] = nn.Parameter(torch.randn(n_in, n_out) * (2.0 / n_in) ** 0.5)
            self.params[f"b{layer}"] = nn.Parameter(torch.zeros(n_out))
        self.num_layers = len(sizes) - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for layer in range(self.num_layers):
            h = h @ self.params[f"W{layer}"] + self.params[f"b{layer}"]
            if layer < self.num_layers - 1:
                h = torch.nn.functional.leaky_relu(h, self.negative_slope)
        return h


class ConvEncoder(nn.Module):
    """(M, C, 64, 64) -> (M, 2D): four 4x4 stride-2 convs, FC 256, FC 2D (docs/training.md)."""

    def __init__(self, channels: int, latent_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, 32, 4, 2, 1),
            nn.ReLU(),  # (M, 32, 32, 32)
            nn.Conv2d(32, 32, 4, 2, 1),
            nn.ReLU(),  # (M, 32, 16, 16)
            nn.Conv2d(32, 64, 4, 2, 1),
            nn.ReLU(),  # (M, 64, 8, 8)
            nn.Conv2d(64, 64, 4, 2, 1),
            nn.ReLU(),  # (M, 64, 4, 4)
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 256),
            nn.ReLU(),
            nn.Linear(256, 2 * latent_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """(M, D) -> logits (M, C, 64, 64): the encoder mirrored (docs/training.md)."""

    def __init__(self, channels: int, latent_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 256),
            nn.ReLU(),
            nn.Linear(256, 64 * 4 * 4),
            nn.ReLU(),
            nn.Unflatten(1, (64, 4, 4)),
            nn.ConvTranspose2d(64, 64, 4, 2, 1),
            nn.ReLU(),  # (M, 64, 8, 8)
            nn.ConvTranspose2d(64, 32, 4, 2, 1),
            nn.ReLU(),  # (M, 32, 16, 16)
            nn.ConvTranspose2d(32, 32, 4, 2, 1),
            nn.ReLU(),  # (M, 32, 32, 32)
            nn.ConvTranspose2d(32, channels, 4, 2, 1),  # (M, C, 64, 64)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class VAE(nn.Module):
    """Encoder to (mu, logvar), decoder to Bernoulli logits; arch "mlp" or "conv"."""

    def __init__(self, arch: str, image_shape: tuple[int, int, int], hidden, latent_dim: int):
        super().__init__()
        H, W, C = image_shape
        self.arch = arch
        if arch == "conv":
            if (H, W) != (64, 64):
                raise ValueError(f"the conv architecture expects 64x64 images, got {H}x{W}")
            self.encoder, self.decoder = ConvEncoder(C, latent_dim), ConvDecoder(C, latent_dim)
        else:
            P, hidden = H * W * C, list(hidden)
            self.encoder = MLP([P, *hidden, 2 * latent_dim])
            self.decoder = MLP([latent_dim, *reversed(hidden), P])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)  # (M, 2D)
        D = h.shape[1] // 2
        return h[:, :D], h[:, D:]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


def make_discriminator(latent_dim: int, hidden: int = 1000, layers: int = 6) -> MLP:
    """FactorVAE's discriminator: `layers` x `hidden` LeakyReLU(0.2), D -> 2 logits."""
    return MLP([latent_dim, *([hidden] * layers), 2], negative_slope=0.2)


def resolve_device(device: str) -> torch.device:
    """ "auto" -> cuda when available, else cpu; "cuda" without CUDA is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            "--device cuda was asked for, but torch sees no CUDA device; use --device cpu or auto"
        )
    return torch.device(device)


# ---------------------------------------------------------------------------
# The networks as pure functions of a params dict
# ---------------------------------------------------------------------------


def layer_plan(module: nn.Module, prefix: str) -> list[tuple[str, Any]]:
    """(kind, argument) of each layer of an `MLP` or `Sequential` network, its weights' names in it."""
    if isinstance(module, MLP):
        plan: list[tuple[str, Any]] = []
        for layer in range(module.num_layers):
            plan.append(("affine", (f"{prefix}params.W{layer}", f"{prefix}params.b{layer}")))
            if layer < module.num_layers - 1:
                plan.append(("leaky_relu", module.negative_slope))
        return plan
    kinds = {
        nn.Conv2d: "conv",
        nn.ConvTranspose2d: "deconv",
        nn.Linear: "linear",
        nn.ReLU: "relu",
        nn.Flatten: "flatten",
        nn.Unflatten: "unflatten",
    }
    return [(kinds[type(layer)], f"{prefix}net.{i}.") for i, layer in enumerate(module.net)]


def run_layers(plan: list[tuple[str, Any]], params: dict[str, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
    """The network of `plan` on h with the weights in `params` (the modules' own arithmetic)."""
    for kind, arg in plan:
        if kind == "affine":
            h = h @ params[arg[0]] + params[arg[1]]  # W (in, out), b (out,)
        elif kind == "leaky_relu":
            h = F.leaky_relu(h, arg)
        elif kind == "conv":  # 4x4, stride 2, padding 1: halves H and W
            h = F.conv2d(h, params[arg + "weight"], params[arg + "bias"], 2, 1)
        elif kind == "deconv":  # doubles H and W
            h = F.conv_transpose2d(h, params[arg + "weight"], params[arg + "bias"], 2, 1)
        elif kind == "linear":
            h = F.linear(h, params[arg + "weight"], params[arg + "bias"])
        elif kind == "relu":
            h = F.relu(h)
        elif kind == "flatten":
            h = h.flatten(1)  # (M, 64 * 4 * 4)
        else:
            h = h.unflatten(1, (64, 4, 4))  # (M, 64, 4, 4)
    return h


class Networks:
    """The VAE (mlp or conv) and FactorVAE discriminator of one run, as pure functions of params."""

    def __init__(
        self,
        arch: str,
        image_shape: tuple[int, int, int],
        hidden: tuple[int, ...],
        latent_dim: int,
        discriminator: tuple[int, int] | None,
        dtype: str,
        device: str,
        pixel_max: int,
        bf16: bool = False,
    ):
        """`discriminator`: (width, hidden layers), or None; `bf16`: autocast on CUDA."""
        self.arch, self.image_shape, self.hidden = arch, tuple(image_shape), tuple(hidden)
        self.latent_dim, self.discriminator, self.pixel_max = latent_dim, discriminator, pixel_max
        self.device, self.dtype, self.bf16 = resolve_device(device), DTYPES[dtype], bf16
        with torch.device("meta"):  # the layers' shapes only: no memory, no random draws
            vae, disc = self._modules()
        self.plans = {
            "encoder": layer_plan(vae.encoder, "encoder."),
            "decoder": layer_plan(vae.decoder, "decoder."),
            "discriminator": [] if disc is None else layer_plan(disc, ""),
        }

    def _modules(self) -> tuple[VAE, nn.Module | None]:
        vae = VAE(self.arch, self.image_shape, self.hidden, self.latent_dim)
        disc = (
            None if self.discriminator is None else make_discriminator(self.latent_dim, *self.discriminator)
        )
        return vae, disc

    def init(self, seed: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Seeded initial params (leaf tensors on the device), by the modules' own initialisers."""
        with torch.random.fork_rng(devices=[]):  # seeded init without touching global state
            torch.manual_seed(seed)
            vae, disc = self._modules()
        vae.to(self.device, self.dtype)
        if self.arch == "conv":
            vae.to(memory_format=torch.channels_last)  # conv weights only; values unchanged
        params = {name: p.detach().requires_grad_() for name, p in vae.named_parameters()}
        disc_params = {}
        if disc is not None:
            disc.to(self.device, self.dtype)
            disc_params = {name: p.detach().requires_grad_() for name, p in disc.named_parameters()}
        return params, disc_params

    def autocast(self):
        if self.bf16 and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def encode(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (M, ...) in [0, 1] -> mu, logvar (M, D) in the run's dtype."""
        with self.autocast():
            h = run_layers(self.plans["encoder"], params, x).to(self.dtype)  # (M, 2D)
        D = h.shape[-1] // 2
        return h[..., :D], h[..., D:]

    def decode(self, params: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
        """z (M, D) -> Bernoulli logits shaped like the input."""
        with self.autocast():
            return run_layers(self.plans["decoder"], params, z).to(self.dtype)

    def discriminate(self, disc_params: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
        """z (M, D) -> logits (M, 2): column 0 "from q(z)", column 1 "permuted"."""
        with self.autocast():
            return run_layers(self.plans["discriminator"], disc_params, z).to(self.dtype)

    def put(self, images: onp.ndarray) -> torch.Tensor:
        """The training set on the device, uint8; for conv (N, C, H, W) in channels-last memory,
        which is the NHWC array itself (no copy) and what the conv kernels prefer."""
        data = torch.from_numpy(onp.ascontiguousarray(images)).to(self.device)  # (N, H, W, C)
        return data.permute(0, 3, 1, 2) if self.arch == "conv" else data

    def as_input(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, ...) on the device -> floats in [0, 1]; flat for the MLP."""
        x = images.to(self.dtype) / self.pixel_max
        return x if self.arch == "conv" else x.reshape(len(x), -1)

    def to_numpy(self, tree: Any) -> Any:
        """Tensors -> NumPy copies (never views of memory that the next step changes in place)."""
        return tree_map(numpy_copy, tree)

    def from_numpy(self, tree: Any) -> Any:
        """NumPy params -> leaf tensors on the device (conv weights channels-last, as `init` makes them)."""

        def leaf(array):
            t = torch.from_numpy(onp.array(array, order="C")).to(self.device, self.dtype)  # a copy
            if self.arch == "conv" and t.dim() == 4:
                t = t.contiguous(memory_format=torch.channels_last)
            return t.requires_grad_()

        return tree_map(leaf, tree)

    def compile(self, trial: Callable[[], None]) -> bool:
        """torch.compile the three networks; False, with a warning, where that is unusable.

        `trial` runs one forward and backward pass through them (the caller's first
        batch, no draws), so a machine without a working compiler trains eagerly
        with the same random draws.  Parameter names are unchanged.
        """
        names = ("encode", "decode", "discriminate")
        for name in names:
            setattr(self, name, torch.compile(getattr(self, name)))  # an instance attribute, removable
        try:
            trial()
        except Exception as error:  # no C++ compiler, an unsupported platform, a dynamo limit
            for name in names:
                delattr(self, name)
            warnings.warn(compile_fallback_message("the networks", error), RuntimeWarning, stacklevel=2)
            return False
        return True


def compile_fallback_message(what: str, error: Exception) -> str:
    """The one-line warning of a --compile that falls back to eager execution."""
    reason = (str(error).strip().splitlines() or [""])[0][:200]
    return (
        f"--compile: torch.compile does not work here for {what} ({type(error).__name__}: {reason}); "
        "training without it"
    )


def numpy_copy(t: torch.Tensor) -> onp.ndarray:
    return onp.array(t.detach().cpu().numpy(), order="C")  # a copy in C order, whatever t's layout
