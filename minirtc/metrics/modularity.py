"""Modularity and explicitness (Ridgeway & Mozer 2018, "Learning deep disentangled
embeddings with the F-statistic loss", Sec. 3).

Modularity: each code should carry information about one factor only.  From the
MI matrix m (D, K) of discretised codes and factors,

    delta_d = (sum_k m_dk^2 - max_k m_dk^2) / (max_k m_dk^2 (K - 1)),  modularity = mean_d (1 - delta_d)

with 0 for a code whose largest MI is 0.  Explicitness: a default
`LogisticRegression` on the standardised codes predicts each factor; the score is
the one-vs-rest ROC-AUC of its `predict_proba`, averaged over classes and then
over factors (docs/metrics.md#modularity-and-explicitness; 10,000 train / 5,000 test).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from minirtc.metrics.checks import check_rng, check_split, sklearn_seed
from minirtc.metrics.discretize import NUM_BINS, discrete_mutual_info, histogram_discretize
from minirtc.metrics.logistic import fit_default_logistic
from minirtc.metrics.sampling import RepresentationFn, sample_split


def modularity_from_mi(mi: np.ndarray) -> float:
    """Ridgeway & Mozer's modularity of an MI matrix (D, K), K >= 2."""
    D, K = mi.shape  # codes, factors
    if K < 2:
        raise ValueError(f"modularity needs at least 2 factors, got {K}")
    m2 = np.square(mi)  # (D, K)
    max_m2 = m2.max(axis=1)  # (D,)
    safe = np.where(max_m2 > 0, max_m2, 1.0)
    delta = (m2.sum(axis=1) - max_m2) / (safe * (K - 1))
    return float(np.mean(np.where(max_m2 > 0, 1.0 - delta, 0.0)))


def standardize(train_codes: np.ndarray, test_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both splits scaled by the TRAINING mean and std (ddof 0); a constant code keeps scale 1."""
    mean = train_codes.mean(axis=0)
    std = train_codes.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (train_codes - mean) / std, (test_codes - mean) / std


def one_vs_rest_auc(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    """Mean over classes of the ROC-AUC of proba[:, j] for "y == classes[j]".

    Classes absent from y (or the only class in y) have no defined AUC and are
    left out of the mean.
    """
    aucs = []
    for j, label in enumerate(classes):
        positive = y == label
        if 0 < positive.sum() < len(y):
            aucs.append(roc_auc_score(positive, proba[:, j]))
    if not aucs:
        raise ValueError("no class has both positive and negative examples; explicitness is undefined")
    return float(np.mean(aucs))


def explicitness(
    train_factors: np.ndarray,
    train_codes: np.ndarray,
    test_factors: np.ndarray,
    test_codes: np.ndarray,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Mean over factors of the one-vs-rest ROC-AUC of a logistic regression: (train, test)."""
    y, c, y_test, c_test = check_split(train_factors, train_codes, test_factors, test_codes)
    x, x_test = standardize(c, c_test)
    rng = check_rng(rng)
    train_auc, test_auc = [], []
    for k in range(y.shape[1]):
        model = fit_default_logistic(x, y[:, k], sklearn_seed(rng))
        train_auc.append(one_vs_rest_auc(y[:, k], model.predict_proba(x), model.classes_))
        test_auc.append(one_vs_rest_auc(y_test[:, k], model.predict_proba(x_test), model.classes_))
    return float(np.mean(train_auc)), float(np.mean(test_auc))


def modularity_explicitness(
    train_factors: np.ndarray,
    train_codes: np.ndarray,
    test_factors: np.ndarray,
    test_codes: np.ndarray,
    rng: np.random.Generator,
    num_bins: int = NUM_BINS,
) -> dict[str, float]:
    """Modularity (training split) and explicitness (train and test)."""
    y, c, y_test, c_test = check_split(train_factors, train_codes, test_factors, test_codes)
    mi = discrete_mutual_info(histogram_discretize(c, num_bins), y)  # (D, K)
    explicit_train, explicit_test = explicitness(y, c, y_test, c_test, rng)
    return {
        "modularity": modularity_from_mi(mi),
        "explicitness_train": explicit_train,
        "explicitness_test": explicit_test,
    }


def compute_modularity_explicitness(
    dataset: Any,
    representation_fn: RepresentationFn,
    rng: np.random.Generator,
    num_train: int = 10_000,
    num_test: int = 5_000,
    batch_size: int = 64,
) -> dict[str, float]:
    """Modularity and explicitness of a representation on a ground-truth dataset."""
    split = sample_split(dataset, representation_fn, num_train, num_test, rng, batch_size)
    return modularity_explicitness(*split, rng=rng)
