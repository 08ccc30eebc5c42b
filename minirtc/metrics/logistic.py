"""The reference recipes' classifier: scikit-learn's LogisticRegression with its default settings.

The BetaVAE score and explicitness fit it as the reference implementations do,
max_iter = 100 included, and report its accuracy whether or not L-BFGS met its
tolerance within those iterations (docs/metrics.md).  scikit-learn warns once
per fit when it did not; on dSprites' codes it usually does not, so the warning
is silenced here instead of filling a sweep's log.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression


def fit_default_logistic(x: np.ndarray, y: np.ndarray, seed: int) -> LogisticRegression:
    """A default LogisticRegression fitted on features x (P, D) and labels y (P,)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(random_state=seed).fit(x, y)
