"""Regularisers on the encoder's moments: RTC-VAE's variance penalty and DIP-VAE's.

docs/theory.md#objectives.
"""

from __future__ import annotations

from minirtc.ops import Array, check_same_shape, ops_for


def variance_penalty(logvar: Array) -> Array:
    """tr(E_p(n) Cov_q(z|n)[z]) = sum_k mean_n sigma_k^2(n)   (paper eq. (4)).

    logvar: (M, D) -> scalar.  RTC-VAE subtracts eta times this from the objective,
    which pulls the sampled representation z towards its mean mu (Theorem 1).
    """
    ops = ops_for(logvar)
    return ops.sum(ops.mean(ops.exp(logvar), axis=0))


def batch_covariance(x: Array) -> Array:
    """Biased (1/M) covariance of the rows of x: (M, D) -> (D, D)."""
    ops = ops_for(x)
    M = x.shape[0]
    centred = x - ops.mean(x, axis=0)[None, :]  # (M, D)
    return ops.matmul(ops.transpose(centred), centred) / M


def dip_penalty(
    mu: Array,
    logvar: Array,
    kind: str = "i",
    lambda_od: float = 10.0,
    lambda_d: float | None = None,
) -> Array:
    """DIP-VAE's moment-matching penalty (Kumar et al. 2017), to be subtracted.

    C = Cov_batch[mu]                                   (kind "i")
    C = Cov_batch[mu] + mean_batch diag(sigma^2)        (kind "ii")
    penalty = lambda_od * sum_{i != j} C_ij^2 + lambda_d * sum_i (C_ii - 1)^2

    lambda_d defaults to 10 * lambda_od for DIP-VAE-I and lambda_od for -II
    (Kumar et al.; Locatello et al. 2019).  Cov_batch is the biased estimate.
    """
    if kind not in ("i", "ii"):
        raise ValueError(f"kind must be one of ['i', 'ii'], got {kind!r}")
    if lambda_od < 0 or (lambda_d is not None and lambda_d < 0):
        raise ValueError(f"lambda_od and lambda_d must be >= 0, got {lambda_od}, {lambda_d}")
    check_same_shape(logvar, mu, "logvar", "mu")
    if lambda_d is None:
        lambda_d = 10.0 * lambda_od if kind == "i" else lambda_od
    ops = ops_for(mu)
    C = batch_covariance(mu)  # (D, D)
    diag_C = ops.diagonal(C)  # (D,)
    if kind == "ii":
        expected_var = ops.mean(ops.exp(logvar), axis=0)  # (D,)  mean_batch sigma^2
        diag_C = diag_C + expected_var
    off_diagonal = ops.sum(C**2) - ops.sum(ops.diagonal(C) ** 2)  # sum_{i != j} C_ij^2
    return lambda_od * off_diagonal + lambda_d * ops.sum((diag_C - 1.0) ** 2)
