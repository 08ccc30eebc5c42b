"""BetaVAE score: features by hand, the pairing of fixed factors, known answers."""

from __future__ import annotations

import numpy as np
import pytest
from test_metrics_toydata import VARYING, FactorImages, identity, make_noise, rotated

from minirtc.metrics import beta_vae_features, beta_vae_score, compute_beta_vae
from minirtc.metrics.beta_vae import beta_vae_points

SIZES = dict(num_train=300, num_eval=200)


def test_features_are_mean_absolute_differences():
    r1 = np.array([[[0.0, 1.0], [2.0, 5.0]]])  # (P=1, B=2, D=2)
    r2 = np.array([[[1.0, 1.0], [0.0, 2.0]]])
    np.testing.assert_allclose(beta_vae_features(r1, r2), [[1.5, 1.5]])


def test_each_pair_shares_the_labelled_factor():
    seen = []

    def record(images):
        seen.append(images.reshape(len(images), -1).copy())
        return identity(images)

    features, labels = beta_vae_points(FactorImages(), record, 20, np.random.default_rng(0), group_size=8)
    factors = np.concatenate(seen).reshape(2, 20, 8, 4)  # (pair side, point, batch, K)
    for p in range(20):
        fixed = VARYING[labels[p]]
        np.testing.assert_array_equal(factors[0, p, :, fixed], factors[1, p, :, fixed])
    # identity codes: the fixed factor's feature is exactly 0
    np.testing.assert_array_equal(features[np.arange(20), labels], 0.0)


def test_identity_codes_score_one():
    scores = compute_beta_vae(FactorImages(), identity, np.random.default_rng(0), **SIZES)
    assert scores["eval_accuracy"] == 1.0 and scores["train_accuracy"] == 1.0


def test_rotation_and_noise_score_lower():
    rot = compute_beta_vae(FactorImages(), rotated, np.random.default_rng(0), **SIZES)["eval_accuracy"]
    noise = compute_beta_vae(FactorImages(), make_noise(), np.random.default_rng(0), **SIZES)["eval_accuracy"]
    assert rot < 0.95
    assert noise < 0.5  # 3 factors: chance is about 1/3


def test_same_seed_same_score_any_batch_size():
    a = compute_beta_vae(FactorImages(), rotated, np.random.default_rng(4), **SIZES)
    b = compute_beta_vae(FactorImages(), rotated, np.random.default_rng(4), batch_size=500, **SIZES)
    c = compute_beta_vae(FactorImages(), rotated, np.random.default_rng(5), **SIZES)
    assert a == b and a != c


def test_a_single_label_is_an_error():
    with pytest.raises(ValueError, match="single factor"):
        beta_vae_score(np.ones((5, 2)), np.zeros(5), np.ones((3, 2)), np.zeros(3), np.random.default_rng(0))
