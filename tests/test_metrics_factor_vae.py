"""FactorVAE score: the vote table by brute force, known answers, pruning of collapsed codes."""

from __future__ import annotations

import numpy as np
import pytest
from test_metrics_toydata import FactorImages, collapsed, identity, make_noise, rotated

from minirtc.metrics import compute_factor_vae, factor_vae_score, factor_vae_votes
from minirtc.metrics.factor_vae import active_codes, majority_vote_accuracy

SIZES = dict(num_train=300, num_eval=200, num_variance_estimate=1000)


def brute_force_votes(labels, batches, global_var, K, threshold=0.05):
    """The vote table written as loops over batches and codes."""
    D = batches.shape[2]
    votes = np.zeros((D, K), dtype=int)
    for label, batch in zip(labels, batches):
        best, best_ratio = None, np.inf
        for d in range(D):
            if np.sqrt(global_var[d]) < threshold:
                continue
            ratio = np.var(batch[:, d], ddof=1) / global_var[d]
            if ratio < best_ratio:
                best, best_ratio = d, ratio
        if best is not None:
            votes[best, label] += 1
    return votes


def test_votes_match_brute_force():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 40)
    batches = rng.standard_normal((40, 16, 5)) * [1.0, 0.5, 0.01, 2.0, 1.0]  # code 2 is collapsed
    global_var = np.array([1.0, 0.25, 1e-4, 4.0, 1.0])
    votes = factor_vae_votes(labels, batches, global_var, 3)
    np.testing.assert_array_equal(votes, brute_force_votes(labels, batches, global_var, 3))
    assert votes[2].sum() == 0 and votes.sum() == 40


def test_majority_vote_accuracy_by_hand():
    train = np.array([[5, 1, 0], [0, 0, 4], [2, 3, 0]])  # codes map to factors 0, 2, 1
    evals = np.array([[2, 2, 0], [1, 0, 1], [0, 0, 0]])
    scores = majority_vote_accuracy(train, evals)
    assert scores["train_accuracy"] == pytest.approx(12 / 15)
    assert scores["eval_accuracy"] == pytest.approx(3 / 6)


def test_fixed_factor_code_always_wins_at_array_level():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 50)
    batches = rng.standard_normal((50, 64, 4))
    batches[np.arange(50), :, labels] = 0.7  # the fixed factor's code does not move
    scores = factor_vae_score(labels, batches, labels, batches, np.ones(4), 4)
    assert scores == {"train_accuracy": 1.0, "eval_accuracy": 1.0}


def test_identity_codes_score_one():
    scores = compute_factor_vae(FactorImages(), identity, np.random.default_rng(0), **SIZES)
    assert scores == {"train_accuracy": 1.0, "eval_accuracy": 1.0, "num_active_codes": 3.0}


def test_collapsed_code_is_pruned_without_division_by_zero():
    with np.errstate(all="raise"):
        scores = compute_factor_vae(FactorImages(), collapsed, np.random.default_rng(0), **SIZES)
    assert scores == {"train_accuracy": 1.0, "eval_accuracy": 1.0, "num_active_codes": 3.0}


def test_all_codes_collapsed_scores_zero():
    def constant(images):
        return np.zeros((len(images), 3))

    scores = compute_factor_vae(FactorImages(), constant, np.random.default_rng(0), **SIZES)
    assert scores == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_codes": 0.0}


def test_pruning_threshold_is_on_the_std():
    np.testing.assert_array_equal(active_codes(np.array([0.05**2, 0.049**2, 1.0, 0.0])), [0, 2])


def test_rotation_and_noise_score_lower():
    rotated_scores = compute_factor_vae(FactorImages(), rotated, np.random.default_rng(0), **SIZES)
    noise_scores = compute_factor_vae(FactorImages(), make_noise(), np.random.default_rng(0), **SIZES)
    assert rotated_scores["eval_accuracy"] < 0.9
    assert noise_scores["eval_accuracy"] < 0.5  # 3 factors: chance is about 1/3


def test_same_seed_same_score_any_batch_size():
    a = compute_factor_vae(FactorImages(), rotated, np.random.default_rng(3), **SIZES)
    b = compute_factor_vae(FactorImages(), rotated, np.random.default_rng(3), batch_size=100, **SIZES)
    assert a == b


def test_bad_labels_are_an_error():
    with pytest.raises(ValueError, match="labels must be"):
        factor_vae_votes(np.array([0, 5]), np.zeros((2, 8, 3)), np.ones(3), 3)
