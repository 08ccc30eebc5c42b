"""The reference classifier of the BetaVAE score and explicitness: default settings, no warning spam."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from minirtc.metrics.logistic import fit_default_logistic


def _hard_data() -> tuple[np.ndarray, np.ndarray]:
    """Five classes in features of scales 0.01 to 1000: L-BFGS needs more than 100 iterations."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 2000)
    x = (rng.normal(size=(2000, 10)) + 0.5 * np.eye(5, 10)[y]) * np.logspace(-2, 3, 10)
    return x, y


def test_the_same_fit_as_a_default_logistic_regression_without_its_warning():
    x, y = _hard_data()
    with warnings.catch_warnings(record=True) as plain_warnings:
        warnings.simplefilter("always")
        plain = LogisticRegression(random_state=3).fit(x, y)
    assert any(issubclass(w.category, ConvergenceWarning) for w in plain_warnings)  # the case is a real one
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = fit_default_logistic(x, y, 3)
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    np.testing.assert_array_equal(ours.coef_, plain.coef_)
    assert ours.max_iter == 100 and ours.C == 1.0
