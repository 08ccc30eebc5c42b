"""Argument checks shared by the metrics: one clear ValueError naming the argument.

Codes are real (n, D) arrays; factors are integer class labels (n, K).  Every
metric core calls these first, so a NaN code or a mismatched row count fails
with a message instead of a silently wrong score.
"""

from __future__ import annotations

import numpy as np


def check_codes(codes: np.ndarray, name: str = "codes", num_rows: int | None = None) -> np.ndarray:
    """codes as a finite float64 array (n, D); ValueError otherwise."""
    c = np.asarray(codes)
    if c.ndim != 2 or c.shape[0] == 0 or c.shape[1] == 0:
        raise ValueError(
            f"{name} must be a non-empty 2-D array (points, code dimensions), got shape {c.shape}"
        )
    if not (np.issubdtype(c.dtype, np.floating) or np.issubdtype(c.dtype, np.integer)):
        raise ValueError(f"{name} must hold real numbers, got dtype {c.dtype}")
    c = c.astype(np.float64, copy=False)
    if not np.all(np.isfinite(c)):
        bad = np.unique(np.nonzero(~np.isfinite(c))[1])
        raise ValueError(f"{name} contains NaN or inf (code dimensions {bad.tolist()})")
    if num_rows is not None and c.shape[0] != num_rows:
        raise ValueError(f"{name} has {c.shape[0]} rows but {num_rows} were expected (one per point)")
    return c


def check_factors(
    factors: np.ndarray,
    name: str = "factors",
    num_rows: int | None = None,
    allow_constant: bool = False,
) -> np.ndarray:
    """factors as an int64 array (n, K) of class labels; ValueError otherwise.

    A factor that takes one value in the sample has zero entropy and cannot be
    predicted or normalised by; unless `allow_constant`, that is an error.
    """
    y = np.asarray(factors)
    if y.ndim != 2 or y.shape[0] == 0 or y.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (points, factors), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if num_rows is not None and y.shape[0] != num_rows:
        raise ValueError(f"{name} has {y.shape[0]} rows but {num_rows} were expected (one per point)")
    if not allow_constant:
        constant = [k for k in range(y.shape[1]) if np.all(y[:, k] == y[0, k])]
        if constant:
            raise ValueError(
                f"{name} columns {constant} take a single value in the sample; a metric needs "
                f"every factor to vary (drop constant factors or draw more points)"
            )
    return y.astype(np.int64, copy=False)


def check_count(value: int, name: str, minimum: int = 1) -> int:
    """A positive integer sample count or batch size; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_rng(rng: np.random.Generator) -> np.random.Generator:
    """The metrics take a NumPy Generator so that the same seed gives the same numbers."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng)}"
        )
    return rng


def sklearn_seed(rng: np.random.Generator) -> int:
    """An integer random_state for a scikit-learn estimator, drawn from rng."""
    return int(rng.integers(0, 2**31 - 1))


def check_split(
    train_factors: np.ndarray,
    train_codes: np.ndarray,
    test_factors: np.ndarray,
    test_codes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A train/test split of (factors, codes), checked: every factor varies in training,
    both splits have the same code and factor dimensions."""
    c = check_codes(train_codes, "train_codes")
    y = check_factors(train_factors, "train_factors", c.shape[0])
    c_test = check_codes(test_codes, "test_codes")
    y_test = check_factors(test_factors, "test_factors", c_test.shape[0], allow_constant=True)
    if c_test.shape[1] != c.shape[1]:
        raise ValueError(f"test_codes has {c_test.shape[1]} dimensions but train_codes has {c.shape[1]}")
    if y_test.shape[1] != y.shape[1]:
        raise ValueError(f"test_factors has {y_test.shape[1]} factors but train_factors has {y.shape[1]}")
    return y, c, y_test, c_test
