"""Separated Attribute Predictability (Kumar et al. 2018, "Variational inference of
disentangled latent concepts from unlabeled observations", Sec. 3).

A score matrix S (D, K) says how well code d ALONE predicts factor k; SAP is the
mean over factors of the gap between the best and second-best code.  Discrete
factors: test accuracy of `LinearSVC(C=0.01, class_weight="balanced")` on the
single code.  Continuous factors: the squared correlation cov(c_d, y_k)^2 /
(var c_d var y_k), 0 where var c_d < 1e-12.  docs/metrics.md#sap; 10,000 train / 5,000 test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.svm import LinearSVC

from minirtc.metrics.checks import check_codes, check_rng, check_split, sklearn_seed
from minirtc.metrics.mig import top_two_gaps
from minirtc.metrics.sampling import RepresentationFn, sample_split


def sap_score_matrix_discrete(
    train_factors: np.ndarray,
    train_codes: np.ndarray,
    test_factors: np.ndarray,
    test_codes: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """S (D, K): test accuracy of a linear SVM on code d alone predicting factor k."""
    y, c, y_test, c_test = check_split(train_factors, train_codes, test_factors, test_codes)
    rng = check_rng(rng)
    S = np.zeros((c.shape[1], y.shape[1]))
    for d in range(c.shape[1]):
        for k in range(y.shape[1]):
            svm = LinearSVC(C=0.01, class_weight="balanced", random_state=sklearn_seed(rng))
            svm.fit(c[:, d : d + 1], y[:, k])
            S[d, k] = np.mean(svm.predict(c_test[:, d : d + 1]) == y_test[:, k])
    return S


def sap_score_matrix_continuous(factors: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """S (D, K): squared correlation of code d and factor value k (0 for a constant code)."""
    c = check_codes(codes)
    y = check_codes(factors, "factors", c.shape[0])
    S = np.zeros((c.shape[1], y.shape[1]))
    for d in range(c.shape[1]):
        for k in range(y.shape[1]):
            cov = np.cov(c[:, d], y[:, k], ddof=1)  # (2, 2)
            if cov[0, 0] >= 1e-12:
                S[d, k] = cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1])
    return S


def sap(
    train_factors: np.ndarray,
    train_codes: np.ndarray,
    test_factors: np.ndarray,
    test_codes: np.ndarray,
    rng: np.random.Generator,
    continuous_factors: bool = False,
) -> float:
    """SAP score of codes for factors (docs/metrics.md); discrete factors use the test split."""
    if continuous_factors:
        return _mean_gap(sap_score_matrix_continuous(train_factors, train_codes))
    return _mean_gap(sap_score_matrix_discrete(train_factors, train_codes, test_factors, test_codes, rng))


def compute_sap(
    dataset: Any,
    representation_fn: RepresentationFn,
    rng: np.random.Generator,
    num_train: int = 10_000,
    num_test: int = 5_000,
    batch_size: int = 64,
    continuous_factors: bool = False,
) -> dict[str, float]:
    """SAP of a representation on fresh train and test draws from a ground-truth dataset."""
    split = sample_split(dataset, representation_fn, num_train, num_test, rng, batch_size)
    return {"sap": sap(*split, rng=rng, continuous_factors=continuous_factors)}


def _mean_gap(S: np.ndarray) -> float:
    """SAP from a score matrix S (D, K): mean over factors of the top-two gap."""
    return float(np.mean(top_two_gaps(S)))
