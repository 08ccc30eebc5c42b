"""DCI: Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018,
"A framework for the quantitative evaluation of disentangled representations").

For each factor k a gradient-boosted tree ensemble predicts y_k from all codes;
its feature importances fill column k of the importance matrix R (D, K).

    disentanglement = sum_d rho_d (1 - H_K(P_d.)),   P_dk = R_dk / sum_k R_dk,  rho_d = sum_k R_dk / sum R
    completeness    = sum_k rho_k (1 - H_D(P_.k)),   P_dk = R_dk / sum_d R_dk,  rho_k = sum_d R_dk / sum R
    informativeness = mean over factors of the classifier's accuracy

H_K is the entropy in base K; 1e-11 is added to R before normalising (docs/metrics.md).
The trees are scikit-learn's DEFAULT `GradientBoostingClassifier` (100 stages of
depth-3 trees), seeded from the rng; 10,000 train / 5,000 test points.  They are
slow (one tree per class per stage); `n_jobs` fits the factors in parallel and
gives identical numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import entropy
from sklearn.ensemble import GradientBoostingClassifier

from minirtc.metrics.checks import check_rng, check_split, sklearn_seed
from minirtc.metrics.sampling import RepresentationFn, sample_split


def importance_matrix(
    train_factors: np.ndarray,
    train_codes: np.ndarray,
    test_factors: np.ndarray,
    test_codes: np.ndarray,
    rng: np.random.Generator,
    n_jobs: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R (D, K) of |feature_importances_|, train accuracy (K,), test accuracy (K,)."""
    y, c, y_test, c_test = check_split(train_factors, train_codes, test_factors, test_codes)
    K = y.shape[1]
    seeds = [sklearn_seed(check_rng(rng)) for _ in range(K)]  # drawn before any parallel work
    # A fit costs one tree per class per stage: hand out the factors with most
    # classes first, so that with a few workers the slowest fit does not start last.
    order = sorted(range(K), key=lambda k: -np.unique(y[:, k]).size)
    fitted = Parallel(n_jobs=n_jobs)(
        delayed(_fit_trees)(c, y[:, k], c_test, y_test[:, k], seeds[k]) for k in order
    )
    fits = dict(zip(order, fitted))
    R = np.stack([fits[k][0] for k in range(K)], axis=1)  # (D, K)
    return R, np.array([fits[k][1] for k in range(K)]), np.array([fits[k][2] for k in range(K)])


def disentanglement(R: np.ndarray) -> float:
    """Importance-weighted mean over codes of 1 - H_K(row d of R)  (R is (D, K))."""
    per_code = 1.0 - entropy(R.T + 1e-11, base=R.shape[1])  # (D,); entropy normalises each column
    weight = _row_weights(R)
    return float(np.sum(per_code * weight))


def completeness(R: np.ndarray) -> float:
    """Importance-weighted mean over factors of 1 - H_D(column k of R)."""
    per_factor = 1.0 - entropy(R + 1e-11, base=R.shape[0])  # (K,)
    weight = _row_weights(R.T)
    return float(np.sum(per_factor * weight))


def dci(
    train_factors: np.ndarray,
    train_codes: np.ndarray,
    test_factors: np.ndarray,
    test_codes: np.ndarray,
    rng: np.random.Generator,
    n_jobs: int | None = None,
) -> dict[str, float]:
    """Disentanglement, completeness and informativeness (train and test accuracy)."""
    R, train_acc, test_acc = importance_matrix(
        train_factors, train_codes, test_factors, test_codes, rng, n_jobs
    )
    return {
        "disentanglement": disentanglement(R),
        "completeness": completeness(R),
        "informativeness_train": float(np.mean(train_acc)),
        "informativeness_test": float(np.mean(test_acc)),
    }


def compute_dci(
    dataset: Any,
    representation_fn: RepresentationFn,
    rng: np.random.Generator,
    num_train: int = 10_000,
    num_test: int = 5_000,
    batch_size: int = 64,
    n_jobs: int | None = None,
) -> dict[str, float]:
    """DCI of a representation on fresh train and test draws from a ground-truth dataset."""
    split = sample_split(dataset, representation_fn, num_train, num_test, rng, batch_size)
    return dci(*split, rng=rng, n_jobs=n_jobs)


def _fit_trees(
    c: np.ndarray, y: np.ndarray, c_test: np.ndarray, y_test: np.ndarray, seed: int
) -> tuple[np.ndarray, float, float]:
    """One factor: importances (D,), train accuracy, test accuracy of default boosted trees."""
    trees = GradientBoostingClassifier(random_state=seed).fit(c, y)
    train_acc = float(np.mean(trees.predict(c) == y))
    test_acc = float(np.mean(trees.predict(c_test) == y_test))
    return np.abs(trees.feature_importances_), train_acc, test_acc


def _row_weights(R: np.ndarray) -> np.ndarray:
    """Each row's share of the total importance; uniform when R is all zero."""
    total = R.sum()
    if total == 0:
        return np.full(R.shape[0], 1.0 / R.shape[0])
    return R.sum(axis=1) / total
