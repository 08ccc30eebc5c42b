"""Discretisation and discrete mutual information against brute-force counts (docs/metrics.md)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from minirtc.metrics import discrete_entropy, discrete_mutual_info, histogram_discretize


def brute_force_mi(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) in nats from a dictionary of pair counts."""
    n = len(a)
    joint, count_a, count_b = Counter(zip(a.tolist(), b.tolist())), Counter(a.tolist()), Counter(b.tolist())
    return sum(c / n * math.log(c * n / (count_a[x] * count_b[y])) for (x, y), c in joint.items())


def test_bins_follow_the_reference_recipe():
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((500, 3)) * [1.0, 5.0, 0.1]
    labels = histogram_discretize(codes, 20)
    for d in range(3):
        edges = np.histogram(codes[:, d], 20)[1]
        np.testing.assert_array_equal(labels[:, d], np.digitize(codes[:, d], edges[:-1]))
    assert labels.min() == 1 and labels.max() == 20  # the extremes land in the first and last bin


def test_equally_spaced_values_get_one_bin_each():
    codes = np.tile(np.arange(20.0), 3)[:, None]  # 20 distinct values, 3 times each
    labels = histogram_discretize(codes, 20)[:, 0]
    np.testing.assert_array_equal(labels, np.tile(np.arange(1, 21), 3))


def test_constant_code_is_one_bin():
    labels = histogram_discretize(np.full((30, 1), 2.5), 20)
    assert np.unique(labels).size == 1


def test_mutual_info_matches_counts():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, (300, 2))
    codes = np.stack([y[:, 0] + rng.integers(0, 2, 300), rng.integers(0, 5, 300), y[:, 1] * 3], axis=1)
    mi = discrete_mutual_info(codes, y)
    assert mi.shape == (3, 2)
    for d in range(3):
        for k in range(2):
            assert mi[d, k] == pytest.approx(brute_force_mi(codes[:, d], y[:, k]), abs=1e-12)


def test_entropy_of_balanced_labels_is_log_n():
    y = np.stack([np.tile(np.arange(4), 25), np.tile(np.arange(10), 10), np.zeros(100, int)], axis=1)
    np.testing.assert_allclose(discrete_entropy(y), [math.log(4), math.log(10), 0.0], atol=1e-12)


def test_fewer_samples_than_bins_is_an_error():
    with pytest.raises(ValueError, match="10 samples but the discretisation uses 20 bins"):
        histogram_discretize(np.random.default_rng(0).standard_normal((10, 2)), 20)


def test_nan_codes_are_an_error():
    codes = np.zeros((50, 3))
    codes[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"codes contains NaN or inf \(code dimensions \[2\]\)"):
        histogram_discretize(codes)


def test_float_factors_are_an_error():
    with pytest.raises(ValueError, match="factors must hold integer class labels"):
        discrete_mutual_info(np.ones((5, 1), int), np.ones((5, 1)))
