"""One optimiser step of a VAE of the total-correlation family, written once for every backend.

`train_step` is the whole algorithm: encode the batch, reparameterise, score
the objective's terms (the core's `minirtc.objective`), take the gradient and
update the VAE; for models whose TC comes from a density-ratio discriminator,
also train that discriminator on this batch's codes against a second batch's
codes permuted dimension-wise (Kim & Mnih 2018, Algorithm 2;
docs/estimators.md#density-ratio-discriminator).  Every random input (the
batches, the noise, the permutation) is drawn before the step by `draw_inputs`.

The backend supplies the mechanics only, through two objects:
  nets    encode, decode, discriminate: pure functions of (params, inputs)
  engine  value_and_grad, map (over the stacked members of K seeds at once;
          the identity for one run), constant (no gradient tracking), Adam

So K seeds at once run this same function with an engine that maps it over
stacked params: the members never interact, and member k follows the single run
of its seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import minirtc
from minirtc.objectives import ObjectiveConfig
from minirtc.ops import Array, ops_for


@dataclass
class StepInputs:
    """One step's random inputs, drawn before the step (shapes of one member)."""

    x: Array  # (M, ...) the batch, floats in [0, 1]
    eps: Array  # (M, D) standard normal noise for z = mu + sigma * eps
    x2: Array | None = None  # (M, ...) the discriminator's second batch
    eps2: Array | None = None  # (M, D) its noise
    permutation: Array | None = None  # (M, D) integer: each column a permutation of range(M)


@dataclass
class TrainState:
    """What the step updates: the networks' params and their optimisers' states."""

    params: Any  # the VAE: encoder and decoder
    disc_params: Any  # the discriminator ({} for models without one)
    opt: Any  # the VAE's Adam state
    disc_opt: Any = None  # the discriminator's Adam state


def draw_inputs(
    stream: Any, rng: Any, nets: Any, images: Any, latent_dim: int, dtype: str, disc: bool
) -> StepInputs:
    """The step's batch and noise (and the second batch, noise and permutation with a discriminator).

    One order for every backend: x, eps, x2, eps2, permutation.
    """
    M, D = stream.batch_size, latent_dim
    x = nets.as_input(images[stream.next_indices(rng)])
    eps = rng.normal((M, D), dtype)
    if not disc:
        return StepInputs(x, eps)
    x2 = nets.as_input(images[stream.next_indices(rng)])
    eps2 = rng.normal((M, D), dtype)
    return StepInputs(x, eps, x2, eps2, rng.column_permutations((M, D)))


def reparameterise(mu: Array, logvar: Array, eps: Array) -> Array:
    """z = mu + sigma * eps, the reparameterisation trick (Kingma & Welling)."""
    return mu + ops_for(mu).exp(0.5 * logvar) * eps


def vae_loss(
    nets: Any,
    objective: ObjectiveConfig,
    dataset_size: int,
    step: int,
    params: Any,
    disc_params: Any,
    x: Array,
    eps: Array,
    *,
    diagnostics: bool = True,
) -> tuple[Array, tuple[dict[str, Array], Array]]:
    """The objective's loss for one batch, its terms and the codes z (docs/theory.md#objectives).

    `diagnostics`: also the terms only logged (see `minirtc.objective`).
    """
    mu, logvar = nets.encode(params, x)  # (M, D) each: q(z|x) = N(mu, diag(exp(logvar)))
    z = reparameterise(mu, logvar, eps)  # (M, D)
    x_logits = nets.decode(params, z)  # (M, ...) logits of p(x|z)
    disc_logits = None  # (M, 2) when the TC comes from the discriminator
    if objective.tc_estimator == "discriminator":
        disc_logits = nets.discriminate(disc_params, z)
    loss, terms = minirtc.objective(
        objective, x, x_logits, mu, logvar, z, dataset_size, disc_logits, step=step, diagnostics=diagnostics
    )
    return loss, (terms, z)


def permuted_codes(nets: Any, params: Any, x2: Array, eps2: Array, permutation: Array) -> Array:
    """The second batch's codes, each dimension shuffled across the batch: samples of prod_k q(z_k)."""
    mu2, logvar2 = nets.encode(params, x2)  # (M, D) each
    z2 = reparameterise(mu2, logvar2, eps2)  # (M, D)
    return ops_for(z2).take_rows(z2, permutation)  # [i, k] = z2[permutation[i, k], k]


def discriminator_loss(
    nets: Any, disc_params: Any, z: Array, z_permuted: Array
) -> tuple[Array, dict[str, Array]]:
    """Cross-entropy of real codes (class 0) against permuted codes (class 1), and its accuracy."""
    logits_real = nets.discriminate(disc_params, z)  # (M, 2)
    logits_permuted = nets.discriminate(disc_params, z_permuted)  # (M, 2)
    loss = minirtc.discriminator_loss(logits_real, logits_permuted)
    accuracy = minirtc.discriminator_accuracy(logits_real, logits_permuted)
    return loss, {"disc_loss": loss, "disc_accuracy": accuracy}


def train_step(
    nets: Any,
    engine: Any,
    adam: Any,
    disc_adam: Any,
    state: TrainState,
    inputs: StepInputs,
    objective: ObjectiveConfig,
    dataset_size: int,
    step: int,
    diagnostics: bool = True,
) -> tuple[TrainState, dict[str, Array]]:
    """One update of the VAE (and of the discriminator), from the params before either update.

    `step`: how many steps came before this one (an input of annealed objectives);
    `diagnostics`: also compute the terms that are only logged (on the steps that log).
    Returns the new state and the step's terms.
    """
    # The VAE: gradient of the objective's loss with respect to encoder and decoder.
    vae_loss_here = partial(vae_loss, nets, objective, dataset_size, step, diagnostics=diagnostics)
    vae = engine.value_and_grad(vae_loss_here)
    (_, (terms, z)), grads = vae(state.params, state.disc_params, inputs.x, inputs.eps)
    if objective.tc_estimator == "discriminator":
        # The discriminator: this batch's codes against the second batch's, permuted
        # dimension-wise, both from the encoder before its update (Kim & Mnih, Alg. 2).
        with engine.constant():
            z_permuted = engine.map(partial(permuted_codes, nets))(
                state.params, inputs.x2, inputs.eps2, inputs.permutation
            )
        disc = engine.value_and_grad(partial(discriminator_loss, nets))
        (_, disc_terms), disc_grads = disc(state.disc_params, z, z_permuted)
        disc_params, disc_opt = disc_adam.update(state.disc_params, disc_grads, state.disc_opt)
        state = replace(state, disc_params=disc_params, disc_opt=disc_opt)
        terms = {**terms, **disc_terms}
    params, opt = adam.update(state.params, grads, state.opt)
    return replace(state, params=params, opt=opt), terms
