"""Closed-form total correlation of a Gaussian (the paper's Proposition 1, eq. (9)).

See docs/estimators.md#closed-form-gaussian-tc.

For x ~ N(m, S):  TC(x) = 0.5 * (sum_k log S_kk - log det S).

Used for TC_mean (S = covariance of the mean representation mu over the data),
TC_sample (S = covariance of sampled z) and as ground truth in the estimator
benchmarks.  Evaluation quantities: always NumPy float64, whatever the input.
"""

from __future__ import annotations

import numpy as np


def gaussian_tc(cov: np.ndarray) -> float:
    """TC of N(m, cov) in nats; `inf` for a singular (or non-PD) covariance, never NaN.

    A zero-variance dimension or a rank-deficient matrix makes the joint density
    degenerate while the product of marginals is not, so the KL is infinite.
    """
    S = np.asarray(_to_numpy(cov), dtype=np.float64)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"cov must be a square matrix, got shape {S.shape}")
    if not np.all(np.isfinite(S)):
        raise ValueError("cov contains NaN or inf; cannot compute a total correlation")
    diag = np.diag(S)
    if np.any(diag <= 0.0):
        return float("inf")
    # Work with the correlation matrix: TC = -0.5 log det(corr), better conditioned.
    scale = 1.0 / np.sqrt(diag)
    corr = S * scale[:, None] * scale[None, :]
    sign, logdet = np.linalg.slogdet(corr)
    if sign <= 0 or not np.isfinite(logdet):
        return float("inf")
    return float(max(0.0, -0.5 * logdet))  # 0.0 first: max(-0.0, 0.0) would be -0.0


def gaussian_tc_of_samples(x: np.ndarray) -> float:
    """Gaussian TC of the sample covariance of x (n, D): TC_mean or TC_sample."""
    X = np.asarray(_to_numpy(x), dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"x must be 2-D (samples, dimensions), got shape {X.shape}")
    if X.shape[0] < 2:
        raise ValueError(f"x needs at least 2 samples for a covariance, got {X.shape[0]}")
    if X.shape[1] == 1:
        return 0.0
    return gaussian_tc(np.cov(X, rowvar=False))


def _to_numpy(x):
    """Accept torch tensors without importing torch."""
    if hasattr(x, "detach"):
        return x.detach().cpu().double().numpy()
    return getattr(x, "_value", x)
