"""Train FactorVAE's discriminator on latents with a known TC, then read TC_D.

See docs/estimators.md#density-ratio-discriminator.

The density-ratio trick: a classifier that tells samples of q(z) (class 0) from
samples of prod_k q(z_k) (class 1, a second batch with every dimension permuted
across the batch) has logit difference log q(z) / prod_k q(z_k) at its optimum,
so TC_D = mean_i [logit_real(z_i) - logit_fake(z_i)] on fresh z ~ q(z).

Here the latents are fixed (no VAE is trained), so the discriminator is fitted
on its own, with the NumPy backend's network and written-out Adam.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from autograd import value_and_grad

import minirtc
from minirtc.backends import numpy_backend as nb

Sampler = Callable[[np.random.Generator, int], np.ndarray]  # (rng, M) -> z (M, D) ~ q(z)


@dataclass(frozen=True)
class DiscriminatorConfig:
    """How the discriminator is built and fitted (Kim & Mnih use 6 x 1000, lr 1e-4; we go smaller)."""

    hidden: int = 64  # units per hidden layer
    layers: int = 2  # hidden layers (LeakyReLU 0.2)
    steps: int = 250  # Adam steps
    batch_size: int = 256  # real samples per step (and as many permuted ones)
    lr: float = 3e-3  # Adam learning rate
    betas: tuple[float, float] = (0.5, 0.9)  # Adam betas, as in FactorVAE

    @classmethod
    def quick(cls) -> DiscriminatorConfig:
        """Small and short, for the seconds-long --quick runs (a rougher TC_D)."""
        return cls(hidden=32, layers=2, steps=100, batch_size=128, lr=5e-3)

    def __post_init__(self) -> None:
        for name in ("hidden", "layers", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"DiscriminatorConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError(f"DiscriminatorConfig.batch_size must be >= 2, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"DiscriminatorConfig.lr must be > 0, got {self.lr}")


def _loss(params: nb.Params, z: np.ndarray, z_permuted: np.ndarray):
    """Two-class cross-entropy of real (class 0) vs permuted (class 1) batches, as in training."""
    M = z.shape[0]
    logits = nb.discriminator_logits(params, np.concatenate([z, z_permuted]))  # (2M, 2): one pass
    return minirtc.discriminator_loss(logits[:M], logits[M:])


_loss_and_grad = value_and_grad(_loss)


def train_discriminator(
    rng: np.random.Generator, sample: Sampler, latent_dim: int, config: DiscriminatorConfig
) -> tuple[nb.Params, np.ndarray]:
    """Fit a discriminator to q(z) vs prod_k q(z_k); returns (params, loss per step (steps,)).

    Each step draws a real batch and a second batch that `minirtc.permute_dims`
    turns into a sample of the product of marginals (Kim & Mnih, Alg. 2).
    """
    from threadpoolctl import threadpool_limits

    params = nb.init_discriminator(rng, latent_dim, config.hidden, config.layers, "float64")
    adam = nb.adam_init(params)
    losses = np.empty(config.steps)
    with threadpool_limits(1):  # small matrices: extra BLAS threads only contend
        for step in range(config.steps):
            z = sample(rng, config.batch_size)  # (M, D) ~ q(z)
            z_permuted = minirtc.permute_dims(sample(rng, config.batch_size), rng)  # (M, D) ~ prod_k q(z_k)
            loss, grads = _loss_and_grad(params, z, z_permuted)
            params, adam = nb.adam_update(params, grads, adam, config.lr, config.betas)
            losses[step] = loss
    return params, losses


def discriminator_tc_of(params: nb.Params, z: np.ndarray) -> float:
    """TC_D = mean_i [logit_real(z_i) - logit_fake(z_i)] on samples z (M, D) of q(z), in nats."""
    return float(minirtc.discriminator_tc(nb.discriminator_logits(params, z)))
