"""DCI: disentanglement and completeness in closed form on hand-made importance matrices,
then the boosted trees on known representations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.ensemble import GradientBoostingClassifier
from test_metrics_toydata import FactorImages, duplicated, identity, make_noise, rotated

from minirtc.metrics import completeness, compute_dci, dci, disentanglement
from minirtc.metrics.checks import sklearn_seed
from minirtc.metrics.dci import importance_matrix

DCI_SIZES = dict(num_train=300, num_test=150)


def test_diagonal_importance_is_perfect():
    R = np.diag([0.3, 0.5, 0.2])
    assert disentanglement(R) == pytest.approx(1.0, abs=1e-8)
    assert completeness(R) == pytest.approx(1.0, abs=1e-8)


def test_uniform_importance_is_zero():
    R = np.ones((4, 3))
    assert disentanglement(R) == pytest.approx(0.0, abs=1e-8)
    assert completeness(R) == pytest.approx(0.0, abs=1e-8)


def test_duplicated_codes_halve_completeness_in_closed_form():
    # K factors, each captured equally by 2 of the D = 2K codes:
    # every code still serves one factor (D = 1), every factor is spread over
    # two codes: completeness = 1 - log 2 / log(2K).
    K = 3
    R = np.concatenate([np.eye(K), np.eye(K)]) * 0.5  # (6, 3)
    assert disentanglement(R) == pytest.approx(1.0, abs=1e-8)
    assert completeness(R) == pytest.approx(1 - math.log(2) / math.log(2 * K), abs=1e-8)


def test_unused_codes_carry_no_weight():
    R = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])  # code 2 unused
    assert disentanglement(R) == pytest.approx(1.0, abs=1e-8)


def test_all_zero_importance_does_not_divide_by_zero():
    with np.errstate(all="raise"):
        assert disentanglement(np.zeros((3, 2))) == pytest.approx(0.0, abs=1e-8)


def test_identity_duplicated_rotated_noise():
    ds = FactorImages()
    ident = compute_dci(ds, identity, np.random.default_rng(0), **DCI_SIZES)
    dup = compute_dci(ds, duplicated, np.random.default_rng(0), **DCI_SIZES)
    rot = compute_dci(ds, rotated, np.random.default_rng(0), **DCI_SIZES)
    assert ident["disentanglement"] > 0.95 and ident["completeness"] > 0.95
    assert ident["informativeness_test"] > 0.99
    # duplicates: completeness falls towards 1 - log 2 / log 6 = 0.61, disentanglement stays
    assert dup["disentanglement"] > 0.95 and dup["completeness"] < 0.8
    assert rot["disentanglement"] < 0.5 and rot["completeness"] < 0.5


def test_noise_is_near_zero_and_uninformative():
    scores = compute_dci(FactorImages(), make_noise(), np.random.default_rng(0), num_train=150, num_test=150)
    assert scores["disentanglement"] < 0.1 and scores["completeness"] < 0.1
    assert scores["informativeness_test"] < 0.5


def test_same_seed_same_numbers_and_parallel_fits_agree():
    rng = np.random.default_rng(2)
    y = rng.integers(0, [2, 5, 3], (300, 3))  # uneven class counts: fits are handed out 5, 3, 2
    codes = y + rng.normal(0, 0.7, y.shape)
    a = dci(y[:200], codes[:200], y[200:], codes[200:], np.random.default_rng(1))
    with parallel_config(backend="threading"):  # same code path as processes, without their start-up
        b = dci(y[:200], codes[:200], y[200:], codes[200:], np.random.default_rng(1), n_jobs=2)
    c = dci(y[:200], codes[:200], y[200:], codes[200:], np.random.default_rng(2))
    assert a == b and a != c


def test_column_k_of_R_is_factor_k_whatever_order_the_fits_ran_in():
    rng = np.random.default_rng(3)
    y = rng.integers(0, [2, 5, 3], (300, 3))
    codes = np.concatenate([y, rng.normal(size=(300, 2))], axis=1) + rng.normal(0, 0.5, (300, 5))
    R, train_acc, test_acc = importance_matrix(
        y[:200], codes[:200], y[200:], codes[200:], np.random.default_rng(4)
    )
    seeds = np.random.default_rng(4)
    for k in range(3):
        trees = GradientBoostingClassifier(random_state=sklearn_seed(seeds)).fit(codes[:200], y[:200, k])
        np.testing.assert_array_equal(R[:, k], trees.feature_importances_)
        assert test_acc[k] == np.mean(trees.predict(codes[200:]) == y[200:, k])
        assert train_acc[k] == np.mean(trees.predict(codes[:200]) == y[:200, k])


def test_mismatched_split_is_an_error():
    y = np.tile([0, 1], 10)[:, None]
    with pytest.raises(ValueError, match="test_codes has 3 dimensions but train_codes has 2"):
        dci(y, np.ones((20, 2)), y, np.ones((20, 3)), np.random.default_rng(0))
