"""Histogram discretisation and discrete mutual information (docs/metrics.md, shared conventions).

MIG, modularity and the unsupervised mutual-information score all bin each code
dimension into equal-width bins and measure mutual information between label
vectors with scikit-learn's `mutual_info_score` (nats).  The binning is the
reference one: edges from `np.histogram(c, num_bins)`, labels from
`np.digitize(c, edges[:-1])`, so labels run 1..num_bins.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mutual_info_score

from minirtc.metrics.checks import check_codes, check_factors

NUM_BINS = 20  # every code is cut into 20 equal-width bins (docs/metrics.md)


def histogram_discretize(codes: np.ndarray, num_bins: int = NUM_BINS) -> np.ndarray:
    """Integer bin labels (n, D) in 1..num_bins of each code dimension of codes (n, D)."""
    c = check_codes(codes)
    if not isinstance(num_bins, (int, np.integer)) or num_bins < 2:
        raise ValueError(f"num_bins must be an integer >= 2, got {num_bins!r}")
    n, D = c.shape  # points, code dimensions
    if n < num_bins:
        raise ValueError(
            f"codes has {n} samples but the discretisation uses {num_bins} bins; "
            f"need at least num_bins samples"
        )
    labels = np.empty((n, D), dtype=np.int64)
    for d in range(D):
        edges = np.histogram(c[:, d], num_bins)[1]  # (num_bins + 1,)
        labels[:, d] = np.digitize(c[:, d], edges[:-1])
    return labels


def discrete_mutual_info(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """MI matrix (D, K) in nats: [d, k] = I(codes[:, d]; factors[:, k]) of two label arrays.

    Each entry is `mutual_info_score` of the pair's contingency table; building the
    tables here (one bincount each) skips scikit-learn's per-call label checks.
    """
    a = check_factors(codes, name="codes", allow_constant=True)  # (n, D) discrete labels
    b = check_factors(factors, num_rows=a.shape[0], allow_constant=True)  # (n, K)
    a_index = [np.unique(a[:, d], return_inverse=True) for d in range(a.shape[1])]
    b_index = [np.unique(b[:, k], return_inverse=True) for k in range(b.shape[1])]
    mi = np.empty((a.shape[1], b.shape[1]))
    for d, (a_values, a_inv) in enumerate(a_index):
        for k, (b_values, b_inv) in enumerate(b_index):
            shape = (len(a_values), len(b_values))
            table = np.bincount(a_inv * shape[1] + b_inv, minlength=shape[0] * shape[1]).reshape(shape)
            mi[d, k] = mutual_info_score(None, None, contingency=table)
    return mi


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
    """Entropy (K,) in nats of each column of factors (n, K): its MI with itself."""
    y = check_factors(factors, allow_constant=True)
    return np.array([discrete_mutual_info(y[:, [k]], y[:, [k]])[0, 0] for k in range(y.shape[1])])
