"""FactorVAE's density-ratio estimate of TC with a discriminator.

See docs/estimators.md#density-ratio-discriminator.

A discriminator maps z (D,) to 2 logits: column 0 scores "drawn from q(z)"
(a batch sample), column 1 "drawn from prod_k q(z_k)" (a batch whose every
dimension was shuffled independently).  With D(z) = softmax(logits)[0],

    TC(z) = E_q(z)[ log q(z) / prod_k q(z_k) ] ~= E_q[ log D(z) / (1 - D(z)) ]
          = mean_i [ logit_real(z_i) - logit_fake(z_i) ].

The paper's eq. (8) drops the log; that is a misprint (docs/estimators.md#density-ratio-discriminator).
"""

from __future__ import annotations

from typing import Any

from minirtc.ops import Array, ops_for

REAL, PERMUTED = 0, 1  # the discriminator's two classes


def permute_dims(z: Array, rng: Any) -> Array:
    """Shuffle each latent dimension independently across the batch.

    The result is a sample of prod_k q(z_k) (Kim & Mnih 2018, Algorithm 1).
    z: (M, D) -> (M, D).  rng: numpy Generator (NumPy) or torch.Generator (torch).
    """
    ops = ops_for(z)
    index = ops.argsort_random(tuple(z.shape), rng, like=z)  # (M, D) permutation per column
    return ops.take_rows(z, index)


def discriminator_tc(logits: Array) -> Array:
    """TC_D = mean_i [logit_real(z_i) - logit_fake(z_i)]  for logits (M, 2) on z ~ q(z)."""
    _check_logits(logits)
    ops = ops_for(logits)
    return ops.mean(logits[:, REAL] - logits[:, PERMUTED])


def discriminator_loss(logits_real: Array, logits_permuted: Array) -> Array:
    """Two-class cross-entropy: real batch -> class 0, permuted batch -> class 1.

    The mean of the two halves' losses, so each counts equally.
    """
    _check_logits(logits_real)
    _check_logits(logits_permuted)
    ops = ops_for(logits_real)
    log_p_real = logits_real[:, REAL] - ops.logsumexp(logits_real, axis=1)  # (M,)
    log_p_perm = logits_permuted[:, PERMUTED] - ops.logsumexp(logits_permuted, axis=1)  # (M,)
    return -0.5 * (ops.mean(log_p_real) + ops.mean(log_p_perm))


def discriminator_accuracy(logits_real: Array, logits_permuted: Array) -> Array:
    """Fraction of both batches the discriminator classifies correctly (for logging)."""
    ops = ops_for(logits_real)
    right_real = ops.asarray(logits_real[:, REAL] > logits_real[:, PERMUTED], like=logits_real)  # (M,)
    right_perm = ops.asarray(logits_permuted[:, PERMUTED] > logits_permuted[:, REAL], like=logits_real)
    return 0.5 * (ops.mean(right_real) + ops.mean(right_perm))


def _check_logits(logits: Array) -> None:
    if logits.ndim != 2 or logits.shape[1] != 2:
        raise ValueError(f"discriminator logits must have shape (M, 2), got {tuple(logits.shape)}")
