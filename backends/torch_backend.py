"""The torch backend: conv and MLP VAEs on any device, for full-scale runs.

The objective is the core's (`minirtc.objective`), the same function the NumPy
backend differentiates with autograd.  What this backend adds is speed: the
whole training set lives on the device as uint8 and batches are drawn there
(no DataLoader, no per-step host copies), the loss terms stay on the device
until a log row needs them, and bf16 autocast is available on CUDA.  The conv
networks and their images use the channels-last memory format (the uint8 NHWC
array is already in it, so the device copy is the array itself), and
`TorchTrainer.compile()` (`--compile`) puts the networks through torch.compile.

Networks (SPEC 8):
- `mlp`: the same layers as the NumPy backend, with parameters of the same
  names and shapes (W{l} is (in, out)), so weights move between backends as is;
- `conv`: Burgess et al. / Locatello et al.: conv 32-32-64-64 (4x4, stride 2),
  FC 256, FC 2D; the decoder mirrors it with transposed convolutions.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as onp
import torch
from torch import nn

import minirtc
from minirtc.accumulate import TermAccumulator
from minirtc.backends.torch_ops import TorchOps

name = "torch"
ops = TorchOps()

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
    """(M, C, 64, 64) -> (M, 2D): four 4x4 stride-2 convs, FC 256, FC 2D (SPEC 8)."""

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
    """(M, D) -> logits (M, C, 64, 64): the encoder mirrored (SPEC 8)."""

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


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps (Kingma & Welling)."""
    return mu + torch.exp(0.5 * logvar) * eps


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
# The trainer
# ---------------------------------------------------------------------------


class TorchTrainer:
    """Model, optimisers, on-device data stream and generator of one run."""

    def __init__(self, config, images: onp.ndarray, pixel_max: int):
        self.config = config
        self.objective = config.objective().resolved()
        self.device = resolve_device(config.device)
        self.dtype = DTYPES[config.dtype]
        self.image_shape = tuple(images.shape[1:])
        self.pixel_max = pixel_max
        self.dataset_size = len(images)
        # The training set on the device, uint8; for conv (N, C, H, W) in channels-last
        # memory, which is the NHWC array itself (no copy) and what the conv kernels prefer.
        data = torch.from_numpy(onp.ascontiguousarray(images)).to(self.device)  # (N, H, W, C)
        self.images = data.permute(0, 3, 1, 2) if config.arch == "conv" else data
        with torch.random.fork_rng(devices=[]):  # seeded init without touching global state
            torch.manual_seed(config.seed)
            self.model = VAE(config.arch, self.image_shape, config.hidden, config.latent_dim)
            self.disc = None
            if self.objective.tc_estimator == "discriminator":
                self.disc = make_discriminator(config.latent_dim, config.disc_hidden, config.disc_layers)
        self.model.to(self.device, self.dtype)
        if config.arch == "conv":
            self.model.to(memory_format=torch.channels_last)  # conv weights only; values unchanged
        self.optimizer = make_adam(self.model.parameters(), config.lr, config.adam_betas)
        if self.disc is not None:
            self.disc.to(self.device, self.dtype)
            self.disc_optimizer = make_adam(self.disc.parameters(), config.disc_lr, config.disc_betas)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(config.seed + 1)
        self.order = torch.randperm(self.dataset_size, generator=self.generator, device=self.device)
        self.cursor = 0
        self.step_count = 0
        self.terms = TermAccumulator(ops)

    # -- data -------------------------------------------------------------------

    def next_batch(self) -> torch.Tensor:
        """The next M items of a shuffled pass, as floats in [0, 1] on the device."""
        M = self.config.batch_size
        if self.cursor + M > self.dataset_size:
            self.order = torch.randperm(self.dataset_size, generator=self.generator, device=self.device)
            self.cursor = 0
        index = self.order[self.cursor : self.cursor + M]
        self.cursor += M
        return self.as_input(self.images[index])

    def as_input(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, ...) on the device -> floats in [0, 1]; flat for the MLP."""
        x = images.to(self.dtype) / self.pixel_max
        return x if self.config.arch == "conv" else x.reshape(len(x), -1)

    def autocast(self):
        if self.config.bf16 and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # -- one optimiser step ---------------------------------------------------------

    def step(self) -> None:
        c = self.config
        x = self.next_batch()
        eps = torch.randn(
            (c.batch_size, c.latent_dim), generator=self.generator, device=self.device, dtype=self.dtype
        )
        with self.autocast():
            mu, logvar = self.model.encode(x)
            mu, logvar = mu.to(self.dtype), logvar.to(self.dtype)
            z = reparameterise(mu, logvar, eps)
            x_logits = self.model.decode(z).to(self.dtype)
            disc_logits = None if self.disc is None else self.disc(z).to(self.dtype)
        N = self.dataset_size
        loss, terms = minirtc.objective(self.objective, x, x_logits, mu, logvar, z, N, disc_logits)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.disc is not None:
            # Kim & Mnih, Alg. 2: this batch's z against a second batch permuted
            # dimension-wise, both from the encoder before its update.
            with torch.no_grad(), self.autocast():
                x2 = self.next_batch()
                mu2, logvar2 = self.model.encode(x2)
                eps2 = torch.randn(mu2.shape, generator=self.generator, device=self.device, dtype=self.dtype)
                z2 = reparameterise(mu2, logvar2, eps2).to(self.dtype)
                z_permuted = minirtc.permute_dims(z2, self.generator)
            with self.autocast():
                logits_real = self.disc(z.detach()).to(self.dtype)
                logits_perm = self.disc(z_permuted).to(self.dtype)
            disc_loss = minirtc.discriminator_loss(logits_real, logits_perm)
            self.disc_optimizer.zero_grad(set_to_none=True)  # drops the VAE loss's grads too
            disc_loss.backward()
            self.disc_optimizer.step()
            terms = {
                **terms,
                "disc_loss": disc_loss,
                "disc_accuracy": minirtc.discriminator_accuracy(logits_real, logits_perm),
            }
        self.optimizer.step()
        self.step_count += 1
        self.terms.add(self.step_count, {k: v.detach() for k, v in terms.items()})

    def pop_metrics(self) -> dict[str, float]:
        return self.terms.pop()

    # -- torch.compile (--compile) -------------------------------------------------------

    def networks(self) -> list[nn.Module]:
        return [self.model.encoder, self.model.decoder] + ([self.disc] if self.disc is not None else [])

    def compile(self) -> bool:
        """torch.compile each network's forward; False, with a warning, where that is unusable.

        Compiling happens on one forward and backward pass over the first training batch,
        before any step and without drawing from the generator, so a machine without a
        working compiler trains eagerly with the same random draws.  Weight names are
        unchanged: checkpoints load with or without compile.
        """
        networks = self.networks()
        for net in networks:
            net.forward = torch.compile(net.forward)  # an instance attribute, removable
        try:
            self._first_pass()
        except Exception as error:  # no C++ compiler, an unsupported platform, a dynamo limit
            for net in networks:
                del net.forward
            warnings.warn(compile_fallback_message("the networks", error), RuntimeWarning, stacklevel=2)
            return False
        return True

    def _first_pass(self) -> None:
        """Forward and backward through every network on the first batch; gradients dropped."""
        x = self.as_input(self.images[: self.config.batch_size])
        with self.autocast():
            mu, logvar = self.model.encode(x)
            total = self.model.decode(mu).float().sum() + logvar.float().sum()
            if self.disc is not None:
                total = total + self.disc(mu).float().sum()
        total.backward()
        for net in self.networks():
            net.zero_grad(set_to_none=True)

    # -- evaluation ---------------------------------------------------------------------

    @torch.no_grad()
    def encode_images(self, images: onp.ndarray, batch_size: int = 1000) -> tuple[onp.ndarray, onp.ndarray]:
        """uint8 images (B, H, W, C) -> mu, logvar (B, D) as float64 NumPy."""
        mus, logvars = [], []
        for start in range(0, len(images), batch_size):
            chunk = torch.from_numpy(onp.ascontiguousarray(images[start : start + batch_size]))
            chunk = chunk.to(self.device)
            if self.config.arch == "conv":
                chunk = chunk.permute(0, 3, 1, 2)
            with self.autocast():
                mu, logvar = self.model.encode(self.as_input(chunk))
            mus.append(ops.to_numpy(mu))
            logvars.append(ops.to_numpy(logvar))
        return onp.concatenate(mus), onp.concatenate(logvars)

    @torch.no_grad()
    def decode_latents(self, z: onp.ndarray) -> onp.ndarray:
        """z (B, D) -> mean images (B, H, W, C) in [0, 1]."""
        logits = self.model.decode(torch.as_tensor(z, dtype=self.dtype, device=self.device))
        images = torch.sigmoid(logits.float())
        if self.config.arch == "conv":
            images = images.permute(0, 2, 3, 1)
        return images.reshape((len(z), *self.image_shape)).cpu().numpy()

    # -- checkpoints ------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to continue bit-identically, as NumPy arrays and plain values."""
        state = {
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "order": self.order,
            "cursor": self.cursor,
            "step": self.step_count,
        }
        if self.disc is not None:
            state["disc"] = {k: v.detach().cpu() for k, v in self.disc.state_dict().items()}
            state["disc_optimizer"] = self.disc_optimizer.state_dict()
        return to_numpy_tree(state)

    def load_state(self, state: dict[str, Any]) -> None:
        state = to_torch_tree(state)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.order = state["order"].to(self.device)
        self.cursor, self.step_count = state["cursor"], state["step"]
        if self.disc is not None:
            self.disc.load_state_dict(state["disc"])
            self.disc_optimizer.load_state_dict(state["disc_optimizer"])


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


def compile_fallback_message(what: str, error: Exception) -> str:
    """The one-line warning of a --compile that falls back to eager execution."""
    reason = (str(error).strip().splitlines() or [""])[0][:200]
    return (
        f"--compile: torch.compile does not work here for {what} ({type(error).__name__}: {reason}); "
        "training without it"
    )


def to_numpy_tree(tree: Any) -> Any:
    """A state of tensors -> NumPy arrays and plain values (the checkpoint contract).

    Optimiser states are keyed by parameter index: the int keys become strings.
    """
    if isinstance(tree, torch.Tensor):
        return tree.detach().cpu().numpy()
    if isinstance(tree, dict):
        return {str(k): to_numpy_tree(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [to_numpy_tree(v) for v in tree]
    return tree


def to_torch_tree(tree: Any, parent: str = "") -> Any:
    """The inverse of `to_numpy_tree`: arrays -> CPU tensors, an optimiser's "state" keys -> ints."""
    if isinstance(tree, onp.ndarray):
        return torch.from_numpy(onp.array(tree))  # a copy: the arrays may be read-only
    if isinstance(tree, dict):
        as_key = int if parent == "state" else str
        return {as_key(k): to_torch_tree(v, k) for k, v in tree.items()}
    if isinstance(tree, list):
        return [to_torch_tree(v) for v in tree]
    return tree


def make_trainer(config, images: onp.ndarray, pixel_max: int) -> TorchTrainer:
    """The trainer for `config` over the training images (N, H, W, C) uint8."""
    return TorchTrainer(config, images, pixel_max)
