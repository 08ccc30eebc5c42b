"""SAP: the continuous score matrix in closed form, the discrete one on known representations."""

from __future__ import annotations

import numpy as np
import pytest
from test_metrics_toydata import FactorImages, duplicated, identity, make_noise, rotated

from minirtc.metrics import compute_sap, sap
from minirtc.metrics.sap import sap_score_matrix_continuous, sap_score_matrix_discrete

RNG = np.random.default_rng(0)
Y = np.stack([RNG.integers(0, 2, 600), RNG.integers(0, 3, 600)], axis=1)  # (600, 2)


def test_continuous_scores_are_squared_correlations():
    codes = np.stack([2.0 * Y[:, 0] + 1.0, -Y[:, 1] * 1.0, np.full(600, 3.0)], axis=1)
    S = sap_score_matrix_continuous(Y, codes)
    np.testing.assert_allclose(S[0, 0], 1.0)
    np.testing.assert_allclose(S[1, 1], 1.0)
    np.testing.assert_allclose(S[2], 0.0)  # a constant code scores 0, no division by zero
    r = np.corrcoef(codes[:, 0], Y[:, 1])[0, 1]
    assert S[0, 1] == pytest.approx(r**2)
    assert sap(Y, codes, Y, codes, RNG, continuous_factors=True) == pytest.approx(
        1 - np.mean([S[0:2, 1].min(), S[0:2, 0].min()])
    )


def test_binary_factor_is_read_perfectly_from_its_code():
    codes = np.stack([Y[:, 0] * 1.0, RNG.standard_normal(600)], axis=1)
    S = sap_score_matrix_discrete(
        Y[:400, :1], codes[:400], Y[400:, :1], codes[400:], np.random.default_rng(0)
    )
    assert S[0, 0] == 1.0 and S[1, 0] < 0.65


def test_known_representations():
    ds, sizes = FactorImages(), dict(num_train=600, num_test=300)
    ident = compute_sap(ds, identity, np.random.default_rng(0), **sizes)["sap"]
    rot = compute_sap(ds, rotated, np.random.default_rng(0), **sizes)["sap"]
    noise = compute_sap(ds, make_noise(), np.random.default_rng(0), **sizes)["sap"]
    dup = compute_sap(ds, duplicated, np.random.default_rng(0), **sizes)["sap"]
    # a single code through a linear SVM separates only some classes of a many-valued
    # factor, so even identity codes stay well below 1 (0.36 here; noise 0.02)
    assert ident > 0.2 and rot < 0.5 * ident and noise < 0.05
    assert dup == pytest.approx(0.0, abs=1e-12)  # two equally good codes: no gap


def test_same_seed_same_sap():
    a = compute_sap(FactorImages(), rotated, np.random.default_rng(6), num_train=300, num_test=100)
    b = compute_sap(FactorImages(), rotated, np.random.default_rng(6), num_train=300, num_test=100)
    assert a == b
