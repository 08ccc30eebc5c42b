"""Unsupervised scores and the full-data ELBO decomposition against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from test_metrics_toydata import FactorImages, encode_identity

from minirtc.metrics import (
    active_units,
    elbo_decomposition,
    gaussian_scores,
    unsupervised_metrics,
    unsupervised_scores,
    wasserstein_correlation,
)
from minirtc.metrics.unsupervised import mutual_info_score_of_codes


def reference_wasserstein(C: np.ndarray) -> float:
    """The formula of docs/metrics.md written literally with scipy's matrix square root."""
    return float(np.real(2 * np.trace(C) - 2 * np.trace(scipy.linalg.sqrtm(C * np.diag(C)[:, None]))))


def test_wasserstein_matches_the_literal_formula():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    C = A @ A.T + 0.1 * np.eye(5)
    assert wasserstein_correlation(C) == pytest.approx(reference_wasserstein(C), rel=1e-8)


def test_wasserstein_closed_form_two_dimensions():
    # C = [[1, r], [r, 1]]: sqrtm(C) has eigenvalues sqrt(1 +- r)
    r = 0.6
    C = np.array([[1.0, r], [r, 1.0]])
    assert wasserstein_correlation(C) == pytest.approx(
        4 - 2 * (math.sqrt(1 + r) + math.sqrt(1 - r)), abs=1e-12
    )


def test_diagonal_covariance_has_no_correlation():
    C = np.diag([0.5, 2.0, 0.0])  # a dead dimension too
    assert wasserstein_correlation(C) == pytest.approx(0.0, abs=1e-12)


def test_gaussian_scores_of_correlated_gaussian():
    rng = np.random.default_rng(1)
    r = 0.8
    x = rng.multivariate_normal([0, 0], [[1, r], [r, 1]], size=20_000)
    scores = gaussian_scores(x)
    assert scores["gaussian_tc"] == pytest.approx(-0.5 * math.log(1 - r**2), abs=0.02)
    C = np.cov(x.T)
    assert scores["wasserstein_corr"] == pytest.approx(reference_wasserstein(C), rel=1e-8)
    assert scores["wasserstein_corr_norm"] == pytest.approx(reference_wasserstein(C) / np.trace(C), rel=1e-8)


def test_independent_codes_score_near_zero():
    scores = gaussian_scores(np.random.default_rng(2).standard_normal((5000, 4)))
    assert scores["gaussian_tc"] < 0.01 and scores["wasserstein_corr"] < 0.01
    assert scores["mutual_info_score"] < 0.05


def test_mutual_info_score_of_duplicated_codes_is_their_entropy():
    codes = np.tile(np.arange(20.0), 50)[:, None]  # each of 20 bins equally likely
    dup = np.concatenate([codes, codes], axis=1)
    assert mutual_info_score_of_codes(dup) == pytest.approx(math.log(20), abs=1e-12)
    assert mutual_info_score_of_codes(codes) == 0.0  # one code: no pairs


def test_active_units_counts_variances_above_threshold():
    rng = np.random.default_rng(3)
    mu = rng.standard_normal((1000, 4)) * [1.0, 0.2, 0.05, 0.0]  # variances 1, 0.04, 0.0025, 0
    assert active_units(mu) == 2


def test_constant_codes_do_not_divide_by_zero():
    with np.errstate(all="raise"):
        scores = gaussian_scores(np.ones((100, 3)))
    assert (
        scores["gaussian_tc"] == math.inf
    )  # singular covariance, as docs/estimators.md#closed-form-gaussian-tc says
    assert scores["wasserstein_corr"] == 0.0 and scores["wasserstein_corr_norm"] == 0.0


def test_sampled_representation_adds_posterior_noise():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((20_000, 1))
    mu = np.concatenate([x, x + 0.01 * rng.standard_normal((20_000, 1))], axis=1)  # nearly duplicated
    logvar = np.full_like(mu, 0.0)  # sigma = 1: sampling halves the correlation
    scores = unsupervised_scores(mu, logvar, np.random.default_rng(0))
    # z = mu + eps: corr(z1, z2) = 1 / 2 -> TC = -0.5 log(1 - 1/4)
    assert scores["gaussian_tc_sampled"] == pytest.approx(-0.5 * math.log(0.75), abs=0.02)
    assert scores["gaussian_tc_mean"] > 3.0
    assert scores["active_units"] == 2.0


def test_dataset_level_unsupervised_is_seeded():
    a = unsupervised_metrics(FactorImages(), encode_identity, np.random.default_rng(0), num_points=500)
    b = unsupervised_metrics(
        FactorImages(), encode_identity, np.random.default_rng(0), num_points=500, batch_size=33
    )
    assert a == b
    assert a["active_units"] == 3.0  # identity codes scaled to [0, 1] all vary
    assert a["gaussian_tc_mean"] < 0.05  # independent factors


# -- the full-data ELBO decomposition (docs/theory.md#elbo-decomposition) ------------------------------


def test_identical_posteriors_decompose_to_zero():
    # every q(z|n) = N(0, I): q(z) = p(z) = prod_k q(z_k), so MI = TC = dimKL = 0 exactly
    mu, logvar = np.zeros((200, 3)), np.zeros((200, 3))
    parts = elbo_decomposition(mu, logvar, np.random.default_rng(0), chunk_size=64)
    for key in ("mi", "tc", "dim_kl", "kl", "kl_closed_form"):
        assert parts[key] == pytest.approx(0.0, abs=1e-10)


def test_separated_posteriors_have_mi_log_n():
    # N far-apart narrow posteriors: each z_n is explained by its own item only
    N = 100
    mu = np.stack([np.arange(N) * 10.0, np.zeros(N)], axis=1)
    logvar = np.full_like(mu, math.log(1e-4))
    parts = elbo_decomposition(mu, logvar, np.random.default_rng(0), chunk_size=32)
    assert parts["mi"] == pytest.approx(math.log(N), abs=1e-6)


def test_decomposition_sums_to_the_closed_form_kl():
    rng = np.random.default_rng(5)
    mu = rng.standard_normal((800, 3)) * [1.5, 0.5, 0.0]
    mu[:, 2] = 0.7 * mu[:, 0]  # correlated means: a TC to find
    logvar = np.log(rng.uniform(0.05, 0.5, (800, 3)))
    parts = elbo_decomposition(mu, logvar, np.random.default_rng(1), chunk_size=100)
    assert parts["kl"] == pytest.approx(parts["mi"] + parts["tc"] + parts["dim_kl"])
    assert parts["kl"] == pytest.approx(parts["kl_closed_form"], rel=0.05)  # Monte Carlo agreement
    assert parts["tc"] > 0.1 and 0 < parts["mi"] <= math.log(800)
    whole = elbo_decomposition(mu, logvar, np.random.default_rng(1), chunk_size=None)
    assert whole == pytest.approx(parts, rel=1e-12)  # chunking changes only rounding


def test_mismatched_posteriors_are_an_error():
    with pytest.raises(ValueError, match="logvar has shape"):
        elbo_decomposition(np.zeros((5, 2)), np.zeros((5, 3)), np.random.default_rng(0))
