"""The NumPy/autograd backend: readable MLP VAEs for the classroom.

Parameters are plain dicts of named arrays; every network is a pure function
`f(params, inputs)`; gradients come from `autograd.grad`; Adam is written out
in a few lines.  The objective itself is the core's (`minirtc.objective`),
exactly as the torch backend uses it.  No torch import anywhere on this path.
"""

from __future__ import annotations

from typing import Any

import autograd.numpy as np
import numpy as onp
from autograd import grad_and_aux

import minirtc
from minirtc.accumulate import TermAccumulator
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
# The losses as functions of the parameters (what autograd differentiates)
# ---------------------------------------------------------------------------


def vae_loss(
    params: Params, disc_params: Params | None, x: Any, eps: Any, objective_config, dataset_size: int
) -> tuple[Any, dict[str, Any]]:
    """The core objective for one batch; returns (loss, terms) for `grad_and_aux`."""
    mu, logvar = encode(params, x)
    z = reparameterise(mu, logvar, eps)
    x_logits = decode(params, z)
    disc_logits = None if disc_params is None else discriminator_logits(disc_params, z)
    loss, terms = minirtc.objective(objective_config, x, x_logits, mu, logvar, z, dataset_size, disc_logits)
    return loss, terms


def discriminator_loss(disc_params: Params, z: Any, z_permuted: Any) -> tuple[Any, dict[str, Any]]:
    """Cross-entropy of real vs permuted (SPEC 3.4); z's are constants here."""
    logits_real = discriminator_logits(disc_params, z)
    logits_perm = discriminator_logits(disc_params, z_permuted)
    loss = minirtc.discriminator_loss(logits_real, logits_perm)
    accuracy = minirtc.discriminator_accuracy(logits_real, logits_perm)
    return loss, {"disc_loss": loss, "disc_accuracy": accuracy}


def _grad_and_terms(loss_fn):
    """d loss / d params (first argument) and the terms as plain arrays."""
    with_aux = grad_and_aux(loss_fn)

    def grad_fn(*args):
        grads, terms = with_aux(*args)
        # autograd hands the aux values back still wrapped in its tracing boxes
        return grads, {name: getattr(value, "_value", value) for name, value in terms.items()}

    return grad_fn


_vae_grad = _grad_and_terms(vae_loss)
_disc_grad = _grad_and_terms(discriminator_loss)


# ---------------------------------------------------------------------------
# The trainer: what the training loop drives
# ---------------------------------------------------------------------------


class NumpyTrainer:
    """Holds params, Adam states, the data stream and the noise rng of one run."""

    def __init__(self, config, images: onp.ndarray, pixel_max: int):
        self.config = config
        self.objective = config.objective().resolved()
        self.dtype = config.dtype
        self.images = images  # (N, H, W, C) uint8, the training set
        self.pixel_max = pixel_max
        self.dataset_size = len(images)
        input_dim = int(onp.prod(images.shape[1:]))
        init_rng, self.rng = (
            onp.random.default_rng(s) for s in onp.random.SeedSequence(config.seed).spawn(2)
        )
        self.params = init_vae(init_rng, input_dim, config.hidden, config.latent_dim, self.dtype)
        self.adam = adam_init(self.params)
        self.disc_params = None
        if self.objective.tc_estimator == "discriminator":
            self.disc_params = init_discriminator(
                init_rng, config.latent_dim, config.disc_hidden, config.disc_layers, self.dtype
            )
            self.disc_adam = adam_init(self.disc_params)
        self.order = self.rng.permutation(self.dataset_size)  # this epoch's data order
        self.cursor = 0
        self.step_count = 0
        self.terms = TermAccumulator(ops)

    # -- data ------------------------------------------------------------------

    def next_batch(self) -> onp.ndarray:
        """The next M items of a shuffled pass over the data, as floats (M, P) in [0, 1]."""
        M = self.config.batch_size
        if self.cursor + M > self.dataset_size:  # a new epoch, a new order
            self.order, self.cursor = self.rng.permutation(self.dataset_size), 0
        index = onp.sort(self.order[self.cursor : self.cursor + M])
        self.cursor += M
        return self.as_input(self.images[index])

    def as_input(self, images: onp.ndarray) -> onp.ndarray:
        """uint8 images (B, H, W, C) -> flat floats (B, P) in [0, 1]."""
        return (images.astype(self.dtype) / self.pixel_max).reshape(len(images), -1)

    # -- one optimiser step ------------------------------------------------------

    def step(self) -> None:
        """One VAE update (and one discriminator update when it has one)."""
        c = self.config
        x = self.next_batch()
        eps = self.rng.standard_normal((c.batch_size, c.latent_dim)).astype(self.dtype)
        grads, terms = _vae_grad(self.params, self.disc_params, x, eps, self.objective, self.dataset_size)
        if self.disc_params is not None:
            # Kim & Mnih, Alg. 2: the discriminator sees this batch's z against a
            # second batch permuted dimension-wise, both from the encoder before its update.
            mu, logvar = encode(self.params, x)
            z = reparameterise(mu, logvar, eps)
            x2 = self.next_batch()
            mu2, logvar2 = encode(self.params, x2)
            eps2 = self.rng.standard_normal(mu2.shape).astype(self.dtype)
            z_permuted = minirtc.permute_dims(reparameterise(mu2, logvar2, eps2), self.rng)
            disc_grads, disc_terms = _disc_grad(self.disc_params, z, z_permuted)
            self.disc_params, self.disc_adam = adam_update(
                self.disc_params, disc_grads, self.disc_adam, c.disc_lr, c.disc_betas
            )
            terms = {**terms, **disc_terms}
        self.params, self.adam = adam_update(self.params, grads, self.adam, c.lr, c.adam_betas)
        self.step_count += 1
        self.terms.add(self.step_count, terms)

    def pop_metrics(self) -> dict[str, float]:
        return self.terms.pop()

    # -- evaluation ----------------------------------------------------------------

    def encode_images(self, images: onp.ndarray, batch_size: int = 1000) -> tuple[onp.ndarray, onp.ndarray]:
        """uint8 images (B, H, W, C) -> mu, logvar (B, D) as float64 NumPy."""
        parts = [
            encode(self.params, self.as_input(images[i : i + batch_size]))
            for i in range(0, len(images), batch_size)
        ]
        return (
            onp.concatenate([p[0] for p in parts]).astype(onp.float64),
            onp.concatenate([p[1] for p in parts]).astype(onp.float64),
        )

    def decode_latents(self, z: onp.ndarray) -> onp.ndarray:
        """z (B, D) -> mean images (B, H, W, C) in [0, 1] (sigmoid of the logits)."""
        logits = decode(self.params, onp.asarray(z, dtype=self.dtype))
        return (1.0 / (1.0 + onp.exp(-logits))).reshape((len(z), *self.images.shape[1:]))

    # -- checkpoints -----------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to continue bit-identically (plain NumPy and Python values)."""
        state = {
            "params": self.params,
            "adam": self.adam,
            "rng": self.rng.bit_generator.state,
            "order": self.order,
            "cursor": self.cursor,
            "step": self.step_count,
        }
        if self.disc_params is not None:
            state.update(disc_params=self.disc_params, disc_adam=self.disc_adam)
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        self.params, self.adam = state["params"], state["adam"]
        self.rng.bit_generator.state = state["rng"]
        self.order, self.cursor, self.step_count = state["order"], state["cursor"], state["step"]
        if self.disc_params is not None:
            self.disc_params, self.disc_adam = state["disc_params"], state["disc_adam"]


def make_trainer(config, images: onp.ndarray, pixel_max: int) -> NumpyTrainer:
    """The trainer for `config` over the training images (N, H, W, C) uint8."""
    if config.arch != "mlp":
        raise ValueError(f"the NumPy backend has MLPs only, got arch {config.arch!r}")
    return NumpyTrainer(config, images, pixel_max)
