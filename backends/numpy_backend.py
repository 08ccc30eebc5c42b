"""The NumPy/autograd backend: readable MLP VAEs for the classroom.

Parameters are plain dicts of named arrays; every network is a pure function
`f(params, inputs)`; gradients come from `autograd`; Adam is written out in a
few lines.  This module supplies only the mechanics that the training step
(`minirtc/training/step.py`, written once for every backend) asks for:

    Networks   init, encode, decode, discriminate, and the images as inputs
    Engine     value_and_grad, map over members (none here), Adam
    Random     permutations and normal draws from the run's generator

No torch import anywhere on this path.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import autograd.numpy as np
import numpy as onp
from autograd import grad_and_aux

from minirtc.backends.numpy_ops import NumpyOps

name = "numpy"
ops = NumpyOps()

Params = dict[str, Any]

# ---------------------------------------------------------------------------
# Networks: pure functions of (params, inputs)
# ---------------------------------------------------------------------------


def init_mlp(rng: onp.random.Generator, sizes: list[int], dtype: str = "float32") -> Params:
    """Weights W{l} (in, out) ~ N(0, 2/in) (He) and zero biases b{l} for each layer."""
    params = {}
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"W{layer}"] = (rng.standard_normal((n_in, n_out)) * onp.sqrt(2.0 / n_in)).astype(dtype)
        params[f"b{layer}"] = onp.zeros(n_out, dtype=dtype)
    return params


def mlp(params: Params, x: Any, negative_slope: float = 0.0) -> Any:
    """Affine layers with (leaky) ReLU between them and none after the last."""
    num_layers = len(params) // 2
    h = x
    for layer in range(num_layers):
        h = np.matmul(h, params[f"W{layer}"]) + params[f"b{layer}"]
        if layer < num_layers - 1:
            h = np.maximum(h, negative_slope * h)  # ReLU (slope 0) or LeakyReLU
    return h


def vae_sizes(input_dim: int, hidden: tuple[int, ...], latent_dim: int) -> tuple[list[int], list[int]]:
    """Layer widths of the encoder (to 2D: mu and logvar) and the mirrored decoder."""
    return [input_dim, *hidden, 2 * latent_dim], [latent_dim, *reversed(hidden), input_dim]


def init_vae(rng: onp.random.Generator, input_dim: int, hidden, latent_dim: int, dtype="float32") -> Params:
    encoder_sizes, decoder_sizes = vae_sizes(input_dim, tuple(hidden), latent_dim)
    return {"encoder": init_mlp(rng, encoder_sizes, dtype), "decoder": init_mlp(rng, decoder_sizes, dtype)}


def encode(params: Params, x: Any) -> tuple[Any, Any]:
    """x (M, P) in [0, 1] -> mu, logvar (M, D)."""
    h = mlp(params["encoder"], x)  # (M, 2D)
    D = h.shape[1] // 2
    return h[:, :D], h[:, D:]


def decode(params: Params, z: Any) -> Any:
    """z (M, D) -> Bernoulli logits (M, P)."""
    return mlp(params["decoder"], z)


def reparameterise(mu: Any, logvar: Any, eps: Any) -> Any:
    """z = mu + sigma * eps, the reparameterisation trick (Kingma & Welling)."""
    return mu + np.exp(0.5 * logvar) * eps


def init_discriminator(
    rng: onp.random.Generator, latent_dim: int, hidden: int = 1000, layers: int = 6, dtype: str = "float32"
) -> Params:
    """FactorVAE's discriminator: `layers` x `hidden` LeakyReLU(0.2) MLP, D -> 2 logits."""
    return init_mlp(rng, [latent_dim, *([hidden] * layers), 2], dtype)


def discriminator_logits(params: Params, z: Any) -> Any:
    """z (M, D) -> logits (M, 2): column 0 "from q(z)", column 1 "permuted"."""
    return mlp(params, z, negative_slope=0.2)


# ---------------------------------------------------------------------------
# Adam, written out (Kingma & Ba 2015, Algorithm 1)
# ---------------------------------------------------------------------------


def adam_init(params: Params) -> dict[str, Any]:
    return {"t": 0, "m": _tree_map(onp.zeros_like, params), "v": _tree_map(onp.zeros_like, params)}


def adam_update(
    params: Params,
    grads: Params,
    state: dict[str, Any],
    lr: float,
    betas: tuple[float, float],
    eps: float = 1e-8,
) -> tuple[Params, dict[str, Any]]:
    """One Adam step; returns new params and state (nothing is modified in place).

    The bias corrections are folded into the step size (Kingma & Ba, end of Sec. 2), so eps
    acts as eps / sqrt(1 - b2^t) of the textbook form: equal up to ~eps, see example 04.
    """
    b1, b2 = betas
    t = state["t"] + 1
    m = _tree_map2(lambda m, g: b1 * m + (1 - b1) * g, state["m"], grads)  # first moment
    v = _tree_map2(lambda v, g: b2 * v + (1 - b2) * g * g, state["v"], grads)  # second moment
    step_size = float(lr * onp.sqrt(1 - b2**t) / (1 - b1**t))  # bias corrections folded in; a Python
    # float keeps float32 params float32 (a NumPy float64 scalar would promote them)
    new_params = _tree_map3(lambda p, m, v: p - step_size * m / (onp.sqrt(v) + eps), params, m, v)
    return new_params, {"t": t, "m": m, "v": v}


def _tree_map(fn, tree):
    return {k: _tree_map(fn, v) for k, v in tree.items()} if isinstance(tree, dict) else fn(tree)


def _tree_map2(fn, a, b):
    return {k: _tree_map2(fn, a[k], b[k]) for k in a} if isinstance(a, dict) else fn(a, b)


def _tree_map3(fn, a, b, c):
    return {k: _tree_map3(fn, a[k], b[k], c[k]) for k in a} if isinstance(a, dict) else fn(a, b, c)


# ---------------------------------------------------------------------------
# The surface the training step uses
# ---------------------------------------------------------------------------


class Networks:
    """The MLP VAE (and FactorVAE discriminator) of one run as pure functions of their params."""

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
        """`discriminator`: (width, hidden layers), or None for models without one (no bf16 here)."""
        if arch != "mlp":
            raise ValueError(f"the NumPy backend has MLPs only, got arch {arch!r}")
        self.image_shape, self.hidden, self.latent_dim = tuple(image_shape), tuple(hidden), latent_dim
        self.discriminator, self.dtype, self.pixel_max = discriminator, dtype, pixel_max

    def init(self, seed: int) -> tuple[Params, Params]:
        """Seeded initial VAE and discriminator params ({} without a discriminator)."""
        init_rng = onp.random.default_rng(onp.random.SeedSequence(seed).spawn(2)[0])
        P = int(onp.prod(self.image_shape))
        params = init_vae(init_rng, P, self.hidden, self.latent_dim, self.dtype)
        disc_params: Params = {}
        if self.discriminator is not None:
            width, layers = self.discriminator
            disc_params = init_discriminator(init_rng, self.latent_dim, width, layers, self.dtype)
        return params, disc_params

    encode = staticmethod(encode)
    decode = staticmethod(decode)
    discriminate = staticmethod(discriminator_logits)

    def put(self, images: onp.ndarray) -> onp.ndarray:
        """The training images (N, H, W, C) uint8 where the networks read them: here, as they are."""
        return images

    def as_input(self, images: onp.ndarray) -> onp.ndarray:
        """uint8 images (B, H, W, C) -> flat floats (B, P) in [0, 1]."""
        return (images.astype(self.dtype) / self.pixel_max).reshape(len(images), -1)

    def to_numpy(self, tree: Any) -> Any:
        return tree

    def from_numpy(self, tree: Any) -> Any:
        return _tree_map(lambda a: onp.asarray(a, dtype=self.dtype), tree)

    def compile(self, trial: Callable[[], None]) -> bool:
        raise ValueError("--compile needs --backend torch")


class Adam:
    """Adam with fixed lr and betas over a params tree (`adam_update`); its state is NumPy already."""

    def __init__(self, lr: float, betas: tuple[float, float]):
        self.lr, self.betas = lr, tuple(betas)

    def init(self, params: Params) -> dict[str, Any]:
        return adam_init(params)

    def update(self, params: Params, grads: Params, state: dict[str, Any]) -> tuple[Params, dict[str, Any]]:
        return adam_update(params, grads, state, self.lr, self.betas)

    def to_numpy(self, state: dict[str, Any], params: Params) -> dict[str, Any]:
        return state

    def from_numpy(self, saved: dict[str, Any], params: Params) -> dict[str, Any]:
        return {"t": int(saved["t"]), "m": saved["m"], "v": saved["v"]}


class Engine:
    """Gradients by autograd; one member per run (the classroom path maps over nothing)."""

    def __init__(self, members: int | None = None, batch_networks: bool | None = None, nets=None):
        if members is not None:
            raise ValueError("the NumPy backend trains seeds one after another, not stacked")
        self.members, self.batch_networks = None, False

    def value_and_grad(self, fn: Callable) -> Callable:
        """fn(params, ...) -> (loss, aux)  becomes  (...) -> ((loss, aux), d loss / d params)."""
        with_aux = grad_and_aux(lambda *args: _loss_in_aux(fn(*args)))

        def run(*args):
            grads, (loss, aux) = with_aux(*args)
            return (_unbox(loss), _unbox(aux)), grads

        return run

    def map(self, fn: Callable) -> Callable:
        return fn

    def constant(self):
        """No gradient is tracked outside `value_and_grad` here: nothing to switch off."""
        return contextlib.nullcontext()

    def adam(self, lr: float, betas: tuple[float, float]) -> Adam:
        return Adam(lr, betas)

    def stack(self, values: list[Any]) -> Any:
        return onp.stack(values)


def _loss_in_aux(out):
    loss, aux = out
    return loss, (loss, aux)


def _unbox(value):
    """The plain arrays of an aux value, which autograd hands back still wrapped in its tracing boxes."""
    if isinstance(value, dict):
        return {k: _unbox(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_unbox(v) for v in value)
    return getattr(value, "_value", value)


class Random:
    """The run's random draws: one NumPy generator, seeded from the run's seed."""

    def __init__(self, seed: int, device: str = "cpu"):
        self.rng = onp.random.default_rng(onp.random.SeedSequence(seed).spawn(2)[1])

    def permutation(self, n: int) -> onp.ndarray:
        return self.rng.permutation(n)

    def normal(self, shape: tuple[int, ...], dtype: str) -> onp.ndarray:
        return self.rng.standard_normal(shape).astype(dtype)

    def column_permutations(self, shape: tuple[int, int]) -> onp.ndarray:
        """(M, D): each column an independent permutation of range(M) (Kim & Mnih, Alg. 1)."""
        return ops.argsort_random(shape, self.rng, like=None)

    def get_state(self) -> dict[str, Any]:
        return self.rng.bit_generator.state  # JSON values (ints, strings)

    def set_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state

    def index_array(self, values: Any) -> onp.ndarray:
        return onp.asarray(values, dtype=onp.int64)
