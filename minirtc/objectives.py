"""The eight objectives (docs/theory.md#objectives), assembled once from named terms.

Every model is a table of weights over the same named terms (all per-example
quantities averaged over the batch, in nats):

    recon        E_q[log p(x|z)]                 summed over pixels
    kl           KL(q(z|n) || p(z))               closed form, summed over latents
    mi, tc, dim_kl   the KL's decomposition (Chen et al. 2018), by a minibatch
                 estimator, or tc by the discriminator (docs/estimators.md)
    var_penalty  sum_k mean_n sigma_k^2(n)         (RTC-VAE, paper eq. (4))
    dip_penalty  DIP-VAE's covariance penalty      (Kumar et al. 2017)
    kl_capacity_gap  |KL - C|, C the capacity at this step (AnnealedVAE, Burgess et al. 2018)

    objective = sum_name weight[name] * term[name]     (to be MAXIMISED)
    loss      = -objective

Two conventions that look alike and are not (docs/theory.md#objectives):
- the paper's L_beta-TC = ELBO - beta * TC (`factor-vae` with weight gamma,
  `rtc-vae` with weight beta) penalises TC by beta ON TOP of the ELBO's own TC;
- Chen et al.'s `beta-tcvae` replaces the TC's weight of 1 inside the ELBO by
  beta, i.e. ELBO - (beta - 1) * TC; beta = 1 gives back the plain ELBO.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import NamedTuple

from minirtc.densities import bernoulli_log_likelihood, gaussian_log_likelihood, kl_normal
from minirtc.density_ratio import discriminator_tc
from minirtc.estimators import decompose
from minirtc.ops import Array, ops_for
from minirtc.penalties import dip_penalty, variance_penalty

MODELS = (
    "vae",
    "beta-vae",
    "beta-tcvae",
    "factor-vae",
    "dip-vae-i",
    "dip-vae-ii",
    "rtc-vae",
    "annealed-vae",
)
TC_ESTIMATORS = ("mws", "mws-noconst", "mss0", "mss1", "discriminator")
LIKELIHOODS = ("bernoulli", "gaussian")

# Hyper-parameters a model uses, with its default when the config leaves them None.
MODEL_DEFAULTS: dict[str, dict[str, float | str]] = {
    "vae": {"tc_estimator": "mss1"},
    "beta-vae": {"beta": 4.0, "tc_estimator": "mss1"},
    "beta-tcvae": {"alpha": 1.0, "beta": 6.0, "gamma": 1.0, "tc_estimator": "mss1"},
    "factor-vae": {"gamma": 6.0, "tc_estimator": "discriminator"},
    "dip-vae-i": {"lambda_od": 10.0, "tc_estimator": "mss1"},  # lambda_d = 10 lambda_od
    "dip-vae-ii": {"lambda_od": 10.0, "tc_estimator": "mss1"},  # lambda_d = lambda_od
    "rtc-vae": {"beta": 6.0, "eta": 10.0, "tc_estimator": "discriminator"},
    # Burgess et al. 2018's dSprites settings: gamma 1000, C raised to 25 nats over 100,000 steps
    "annealed-vae": {
        "gamma": 1000.0,
        "capacity_min": 0.0,
        "capacity_max": 25.0,
        "capacity_steps": 100_000,
        "tc_estimator": "mss1",
    },
}

# The weight that sets each model's pressure towards independent codes: the one a sweep varies.
MAIN_WEIGHT = {
    "beta-vae": "beta",
    "beta-tcvae": "beta",
    "factor-vae": "gamma",
    "rtc-vae": "beta",
    "annealed-vae": "gamma",
}


def _setting(default, help_text: str, choices: tuple[str, ...] | None = None):
    """A field with its one-line meaning (and its choices), which the CLI shows as the flag's help."""
    return field(default=default, metadata={"help": help_text, "choices": choices})


@dataclass(frozen=True)
class ObjectiveConfig:
    """Which objective, with which weights.  None means "the model's default"."""

    model: str = _setting("rtc-vae", "Objective to train (docs/theory.md#objectives).", MODELS)
    beta: float | None = _setting(None, "TC weight (rtc-vae, beta-tcvae) or KL weight (beta-vae).")
    gamma: float | None = _setting(
        None, "TC weight (factor-vae); dim-KL weight (beta-tcvae); |KL - C| weight (annealed-vae)."
    )
    alpha: float | None = _setting(None, "beta-tcvae's MI weight.")
    eta: float | None = _setting(None, "rtc-vae's variance-penalty weight (paper: 10).")
    lambda_od: float | None = _setting(None, "dip-vae off-diagonal weight.")
    lambda_d: float | None = _setting(None, "dip-vae diagonal weight.")
    tc_estimator: str | None = _setting(
        None,
        "How TC is estimated (docs/estimators.md); for models without TC, what is logged.",
        TC_ESTIMATORS,
    )
    likelihood: str = _setting(
        "bernoulli", "Decoder: bernoulli (logits) or gaussian (unit variance).", LIKELIHOODS
    )
    chunk_size: int | None = _setting(None, "Rows per chunk in the minibatch TC estimator (memory).")
    capacity_min: float | None = _setting(None, "annealed-vae: capacity C at step 0, in nats.")
    capacity_max: float | None = _setting(None, "annealed-vae: capacity C at the end of the ramp, in nats.")
    capacity_steps: int | None = _setting(None, "annealed-vae: steps over which C rises linearly.")

    def resolved(self) -> ObjectiveConfig:
        """A copy with every None replaced by the model's default, after checks."""
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {list(MODELS)}, got {self.model!r}")
        filled = {k: v for k, v in MODEL_DEFAULTS[self.model].items() if getattr(self, k) is None}
        config = dataclasses.replace(self, **filled)
        if config.model.startswith("dip-vae") and config.lambda_d is None:
            # Kumar et al.: lambda_d = 10 lambda_od for DIP-VAE-I, lambda_od for DIP-VAE-II
            ratio = 10.0 if config.model == "dip-vae-i" else 1.0
            config = dataclasses.replace(config, lambda_d=ratio * config.lambda_od)
        config._check()
        return config

    def _check(self) -> None:
        for name in ("beta", "gamma", "alpha", "eta", "lambda_od", "lambda_d"):
            value = getattr(self, name)
            if value is not None and not value >= 0:  # also catches NaN
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.tc_estimator not in TC_ESTIMATORS:
            raise ValueError(f"tc_estimator must be one of {list(TC_ESTIMATORS)}, got {self.tc_estimator!r}")
        if self.model == "beta-tcvae" and self.tc_estimator == "discriminator":
            raise ValueError(
                "beta-tcvae decomposes the KL with a minibatch estimator: "
                f"tc_estimator must be one of {list(TC_ESTIMATORS[:-1])}"
            )
        if self.model == "factor-vae" and self.tc_estimator != "discriminator":
            raise ValueError(
                "factor-vae estimates TC with its discriminator: tc_estimator must be 'discriminator'"
            )
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")
        if self.model == "annealed-vae":
            if not 0 <= self.capacity_min <= self.capacity_max:
                raise ValueError(
                    "capacity_min and capacity_max must satisfy 0 <= capacity_min <= capacity_max, "
                    f"got {self.capacity_min} and {self.capacity_max}"
                )
            if self.capacity_steps < 1:
                raise ValueError(f"capacity_steps must be >= 1, got {self.capacity_steps}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {list(LIKELIHOODS)}, got {self.likelihood!r}")

    @property
    def needs_discriminator(self) -> bool:
        """True when the TC term comes from a discriminator (trained alongside)."""
        return self.resolved().tc_estimator == "discriminator"


def term_weights(config: ObjectiveConfig) -> dict[str, float]:
    """The weight of each named term in the objective of `config.model` (docs/theory.md#objectives)."""
    c = config.resolved()
    weights = {
        "vae": lambda: {"recon": 1.0, "kl": -1.0},
        "beta-vae": lambda: {"recon": 1.0, "kl": -c.beta},
        "beta-tcvae": lambda: {"recon": 1.0, "mi": -c.alpha, "tc": -c.beta, "dim_kl": -c.gamma},
        "factor-vae": lambda: {"recon": 1.0, "kl": -1.0, "tc": -c.gamma},
        "dip-vae-i": lambda: {"recon": 1.0, "kl": -1.0, "dip_penalty": -1.0},
        "dip-vae-ii": lambda: {"recon": 1.0, "kl": -1.0, "dip_penalty": -1.0},
        "rtc-vae": lambda: {"recon": 1.0, "kl": -1.0, "tc": -c.beta, "var_penalty": -c.eta},
        "annealed-vae": lambda: {"recon": 1.0, "kl_capacity_gap": -c.gamma},
    }
    return weights[c.model]()


def decomposition_in_loss(config: ObjectiveConfig) -> bool:
    """Whether the loss itself weighs the minibatch decomposition's MI, TC or dimKL."""
    c = config.resolved()
    weighted = {name for name, weight in term_weights(c).items() if weight != 0}
    if c.tc_estimator == "discriminator":
        weighted.discard("tc")
    return bool(weighted & {"mi", "tc", "dim_kl"})


class Objective(NamedTuple):
    """The loss to minimise and every term by name (scalars of the input's array type)."""

    loss: Array
    terms: dict[str, Array]


def capacity(config: ObjectiveConfig, step: int) -> float:
    """AnnealedVAE's capacity C in nats after `step` steps: C_min raised linearly to C_max.

    C = C_min + (C_max - C_min) * min(1, step / capacity_steps)   (Burgess et al. 2018, Sec. 5)
    """
    c = config.resolved()
    return c.capacity_min + (c.capacity_max - c.capacity_min) * min(1.0, step / c.capacity_steps)


def objective(
    config: ObjectiveConfig,
    x: Array,
    x_logits: Array,
    mu: Array,
    logvar: Array,
    z: Array,
    dataset_size: int,
    disc_logits: Array | None = None,
    step: int = 0,
    diagnostics: bool = True,
) -> Objective:
    """Assemble `config.model`'s objective from the encoder/decoder outputs.

    x: (M, ...) data in [0, 1]; x_logits: decoder output of the same shape;
    mu, logvar, z: (M, D) with z = mu + exp(logvar / 2) * eps; `dataset_size`: N
    for the minibatch estimators; `disc_logits`: the discriminator's (M, 2) logits
    on z, required when the TC comes from the discriminator; `step`: the number of
    optimiser steps taken before this one (annealed-vae's capacity follows it).
    `diagnostics=False` leaves out the terms only logged, never in the loss (the
    minibatch decomposition of models that do not train on it: O(M^2 D) work).
    """
    c = config.resolved()
    ops = ops_for(mu)
    log_likelihood = bernoulli_log_likelihood if c.likelihood == "bernoulli" else gaussian_log_likelihood
    recon = ops.mean(log_likelihood(x, x_logits))
    kl = ops.mean(kl_normal(mu, logvar))
    terms = {"recon": recon, "kl": kl, "elbo": recon - kl}
    # The minibatch decomposition: in the loss of beta-tcvae (and of any model whose
    # TC it supplies), else a diagnostic, logged for every model when asked for.
    if diagnostics or decomposition_in_loss(c):
        method = "mss1" if c.tc_estimator == "discriminator" else c.tc_estimator
        parts = decompose(z, mu, logvar, dataset_size, method=method, chunk_size=c.chunk_size)
        terms.update(mi=parts.mi, tc=parts.tc, dim_kl=parts.dim_kl)
    if c.tc_estimator == "discriminator":
        if disc_logits is None:
            raise ValueError(f"{c.model} with tc_estimator='discriminator' needs disc_logits")
        terms["tc"] = discriminator_tc(disc_logits)
    terms["var_penalty"] = variance_penalty(logvar)
    if c.model.startswith("dip-vae"):
        kind = c.model.rsplit("-", 1)[1]
        terms["dip_penalty"] = dip_penalty(mu, logvar, kind, c.lambda_od, c.lambda_d)
    if c.model == "annealed-vae":
        # E_q[log p(x|z)] - gamma |KL - C|: the KL is held near a capacity C that grows with the step
        C = capacity(c, step)
        terms["capacity"] = ops.asarray(C, like=kl)
        terms["kl_capacity_gap"] = abs(kl - C)
    value = sum(weight * terms[name] for name, weight in term_weights(c).items())
    terms["loss"] = -value
    return Objective(-value, terms)
