"""Mutual Information Gap (Chen et al. 2018, "Isolating sources of disentanglement", eq. 6).

    MIG = (1/K) sum_k  ( I(c_j(k); y_k) - I(c_j'(k); y_k) ) / H(y_k)

where j(k) and j'(k) are the codes with the largest and second-largest mutual
information with factor k.  Codes are histogram-discretised into 20 bins
(docs/metrics.md); 10,000 points by default.  A factor with more values than bins can
reach at most log(20)/H(y_k) < 1 even for a perfect code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirtc.metrics.checks import check_codes, check_factors
from minirtc.metrics.discretize import NUM_BINS, discrete_entropy, discrete_mutual_info, histogram_discretize
from minirtc.metrics.sampling import RepresentationFn, sample_codes


def top_two_gaps(S: np.ndarray) -> np.ndarray:
    """Per column of S (D, K): largest minus second-largest entry (K,); the largest alone if D = 1."""
    top = np.sort(S, axis=0)[::-1]  # (D, K), descending per factor
    second = top[1] if S.shape[0] > 1 else np.zeros(S.shape[1])
    return top[0] - second


def mutual_info_gaps(mi: np.ndarray, entropy: np.ndarray) -> np.ndarray:
    """Per-factor gaps (K,): (largest - second largest of mi[:, k]) / entropy[k].  mi is (D, K)."""
    if mi.ndim != 2 or mi.shape[1] != entropy.shape[0]:
        raise ValueError(f"mi must be (D, K) with K = {entropy.shape[0]}, got shape {mi.shape}")
    if np.any(entropy <= 0):
        raise ValueError(f"every factor needs a positive entropy, got {entropy.tolist()}")
    return top_two_gaps(mi) / entropy


def mutual_info_matrix(
    factors: np.ndarray, codes: np.ndarray, num_bins: int = NUM_BINS, allow_constant: bool = False
) -> np.ndarray:
    """The (D, K) matrix MIG is computed from: I(binned code d; factor k) in nats.

    `allow_constant`: accept a factor with one value in the sample (its column of MI is 0).
    """
    c = check_codes(codes)
    y = check_factors(factors, num_rows=c.shape[0], allow_constant=allow_constant)
    return discrete_mutual_info(histogram_discretize(c, num_bins), y)


def mig(factors: np.ndarray, codes: np.ndarray, num_bins: int = NUM_BINS) -> float:
    """MIG of codes (n, D) for integer factors (n, K)  (docs/metrics.md)."""
    mi = mutual_info_matrix(factors, codes, num_bins)  # (D, K)
    return float(np.mean(mutual_info_gaps(mi, discrete_entropy(check_factors(factors)))))


def compute_mig(
    dataset: Any,
    representation_fn: RepresentationFn,
    rng: np.random.Generator,
    num_train: int = 10_000,
    batch_size: int = 64,
) -> dict[str, float]:
    """MIG of a representation on num_train random observations of a ground-truth dataset."""
    factors, codes = sample_codes(dataset, representation_fn, num_train, rng, batch_size)
    return {"mig": mig(factors, codes)}
