"""Unsupervised scores of a representation: no factors needed, only codes (docs/metrics.md).

With C = np.cov(c.T) the covariance (D, D) of the codes over the data:

- Gaussian TC (the paper's Proposition 1; docs/estimators.md#closed-form-gaussian-tc):
  0.5 (sum_k log C_kk - log det C);
  `minirtc.gaussian_tc_of_samples`.  Infinite for a singular C.
- Gaussian Wasserstein correlation: 2 tr(C) - 2 tr(sqrtm(C * diag(C)[:, None])), the
  squared 2-Wasserstein distance between N(0, C) and N(0, diag(C)); "norm" divides
  it by tr(C) (0 when every code is constant).
- Mutual-information score: mean of the off-diagonal entries of the (D, D) MI matrix
  of the 20-bin discretised codes.
- Active units (Burda et al. 2016): number of codes with Var_n[mu_k] > 0.01.

`unsupervised_metrics` scores the MEAN representation mu and the SAMPLED one
z = mu + exp(logvar / 2) * eps (eps from the rng): TC_mean vs TC_sample is the
paper's central comparison.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirtc.gaussian import gaussian_tc_of_samples
from minirtc.metrics.checks import check_codes, check_rng
from minirtc.metrics.discretize import NUM_BINS, discrete_mutual_info, histogram_discretize
from minirtc.metrics.sampling import EncodeFn, sample_posteriors

ACTIVE_VARIANCE = 0.01  # a unit is active when the variance of its mean over the data exceeds this


def wasserstein_correlation(cov: np.ndarray) -> float:
    """2 tr(C) - 2 tr(sqrtm(C * diag(C)[:, None])) for a covariance C (D, D).

    C * diag(C)[:, None] = diag(c) C is similar to the symmetric PSD matrix
    diag(c)^1/2 C diag(c)^1/2, so the trace of its principal square root is the sum
    of the square roots of that matrix's eigenvalues (stable, always real).
    """
    C = np.asarray(cov, dtype=np.float64)
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise ValueError(f"cov must be a square matrix, got shape {C.shape}")
    root_c = np.sqrt(np.clip(np.diag(C), 0.0, None))  # (D,)
    eig = np.linalg.eigvalsh(root_c[:, None] * C * root_c[None, :])  # (D,)
    return float(2.0 * np.trace(C) - 2.0 * np.sum(np.sqrt(np.clip(eig, 0.0, None))))


def mutual_info_score_of_codes(codes: np.ndarray, num_bins: int = NUM_BINS) -> float:
    """Mean pairwise MI (nats) between the discretised code dimensions; 0 for a single code."""
    labels = histogram_discretize(codes, num_bins)  # (n, D)
    D = labels.shape[1]
    if D < 2:
        return 0.0
    mi = discrete_mutual_info(labels, labels)  # (D, D)
    return float((mi.sum() - np.trace(mi)) / (D * D - D))


def active_units(mu: np.ndarray, threshold: float = ACTIVE_VARIANCE) -> int:
    """Number of codes whose mean varies over the data: Var_n[mu_k] > threshold."""
    return int(np.sum(np.var(check_codes(mu, "mu"), axis=0) > threshold))


def gaussian_scores(codes: np.ndarray, num_bins: int = NUM_BINS) -> dict[str, float]:
    """Gaussian TC, Wasserstein correlation (raw, normalised) and MI score of codes (n, D)."""
    c = check_codes(codes)
    if c.shape[0] < 2:
        raise ValueError(f"codes needs at least 2 points for a covariance, got {c.shape[0]}")
    C = np.atleast_2d(np.cov(c.T))  # (D, D)
    w = wasserstein_correlation(C)
    trace = float(np.trace(C))
    return {
        "gaussian_tc": gaussian_tc_of_samples(c),
        "wasserstein_corr": w,
        "wasserstein_corr_norm": w / trace if trace > 0 else 0.0,
        "mutual_info_score": mutual_info_score_of_codes(c, num_bins),
    }


def unsupervised_scores(mu: np.ndarray, logvar: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """The unsupervised set on the mean and the sampled representation of posteriors (n, D)."""
    mu = check_codes(mu, "mu")
    logvar = check_codes(logvar, "logvar")
    if logvar.shape != mu.shape:
        raise ValueError(f"logvar has shape {logvar.shape} but mu has {mu.shape}; they must match")
    z = mu + np.exp(0.5 * logvar) * check_rng(rng).standard_normal(mu.shape)  # (n, D) sampled representation
    scores = {f"{name}_mean": value for name, value in gaussian_scores(mu).items()}
    scores.update({f"{name}_sampled": value for name, value in gaussian_scores(z).items()})
    scores["active_units"] = float(active_units(mu))
    return scores


def unsupervised_metrics(
    dataset: Any,
    encode_fn: EncodeFn,
    rng: np.random.Generator,
    num_points: int = 10_000,
    batch_size: int = 64,
) -> dict[str, float]:
    """The unsupervised set on num_points random observations; encode_fn(images) -> (mu, logvar)."""
    mu, logvar = sample_posteriors(dataset, encode_fn, num_points, rng, batch_size)
    return unsupervised_scores(mu, logvar, rng)
