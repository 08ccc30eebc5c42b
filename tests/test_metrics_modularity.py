"""Modularity and explicitness: closed forms on MI matrices, known representations."""

from __future__ import annotations

import numpy as np
import pytest
from test_metrics_toydata import FactorImages, collapsed, duplicated, identity, make_noise, rotated

from minirtc.metrics import compute_modularity_explicitness, modularity_from_mi
from minirtc.metrics.modularity import one_vs_rest_auc, standardize

SIZES = dict(num_train=500, num_test=250)


def test_modularity_closed_form():
    mi = np.array([[2.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    # code 0: delta 0 -> 1;  code 1: delta = (2 - 1) / (1 * 2) -> 0.5;  code 2: max 0 -> 0
    assert modularity_from_mi(mi) == pytest.approx((1.0 + 0.5 + 0.0) / 3)


def test_modularity_needs_two_factors():
    with pytest.raises(ValueError, match="at least 2 factors"):
        modularity_from_mi(np.ones((3, 1)))


def test_standardize_uses_training_statistics_and_keeps_constant_codes_finite():
    train = np.array([[0.0, 5.0], [2.0, 5.0]])
    x, x_test = standardize(train, np.array([[4.0, 6.0]]))
    np.testing.assert_allclose(x, [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(x_test, [[3.0, 1.0]])


def test_one_vs_rest_auc_skips_undefined_classes():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.3, 0.7, 0.0], [0.4, 0.6, 0.0]])
    assert one_vs_rest_auc(y, proba, np.array([0, 1, 2])) == 1.0  # class 2 absent: left out


def test_known_representations():
    ds = FactorImages()
    scores = {
        name: compute_modularity_explicitness(ds, rep, np.random.default_rng(0), **SIZES)
        for name, rep in [
            ("identity", identity),
            ("rotated", rotated),
            ("noise", make_noise()),
            ("dup", duplicated),
        ]
    }
    assert scores["identity"]["modularity"] > 0.99
    assert scores["dup"]["modularity"] > 0.99  # each code still serves one factor
    assert scores["rotated"]["modularity"] < scores["identity"]["modularity"] - 0.1
    # Ridgeway & Mozer's modularity is NOT near 0 for noise: tiny MIs still have a
    # dominant factor.  Explicitness is what falls to chance (AUC 0.5).
    assert scores["noise"]["modularity"] < scores["identity"]["modularity"]
    assert scores["identity"]["explicitness_test"] > 0.99
    assert abs(scores["noise"]["explicitness_test"] - 0.5) < 0.05


def test_collapsed_code_counts_as_zero_modularity():
    with np.errstate(divide="raise", invalid="raise"):
        scores = compute_modularity_explicitness(FactorImages(), collapsed, np.random.default_rng(0), **SIZES)
    assert scores["modularity"] == pytest.approx(3 / 4, abs=0.01)  # 3 perfect codes, 1 scored 0
    assert scores["explicitness_test"] > 0.99
