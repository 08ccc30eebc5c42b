"""MIG: known answers (identity, rotated, noise, duplicated) and a direct count-based computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_metrics_discretize import brute_force_mi
from test_metrics_toydata import FactorImages, duplicated, identity, make_noise, rotated

from minirtc.metrics import compute_mig, mig, mutual_info_gaps
from minirtc.metrics.discretize import discrete_entropy, discrete_mutual_info, histogram_discretize

RNG = np.random.default_rng(0)
N = 2000
FACTORS = np.stack([RNG.integers(0, s, N) for s in (2, 5, 12)], axis=1)  # (N, 3)


def brute_force_mig(factors: np.ndarray, codes: np.ndarray) -> float:
    """MIG from pair counts, with the reference 20-bin discretisation written out."""
    binned = [np.digitize(c, np.histogram(c, 20)[1][:-1]) for c in codes.T]
    gaps = []
    for y in factors.T:
        mis = sorted((brute_force_mi(b, y) for b in binned), reverse=True)
        gaps.append((mis[0] - mis[1]) / brute_force_mi(y, y))
    return float(np.mean(gaps))


def test_identity_codes_give_mig_one():
    assert mig(FACTORS, FACTORS.astype(float)) > 0.98
    gaps = mutual_info_gaps(
        discrete_mutual_info(histogram_discretize(FACTORS * 1.0), FACTORS), discrete_entropy(FACTORS)
    )
    assert np.all(gaps > 0.97)


def test_a_factor_with_more_values_than_bins_loses_information():
    # 40 equally likely values in 20 equal bins: each bin holds two values, so
    # I(code; factor) = log 20 while H(factor) = log 40.
    # With a single code the "second best" is 0, so MIG is exactly that ratio.
    y = np.tile(np.arange(40), 50)[:, None]  # (2000, 1) exactly balanced
    assert mig(y, y.astype(float)) == pytest.approx(math.log(20) / math.log(40), abs=1e-12)


def test_rotation_lowers_mig():
    q, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((3, 3)))
    assert mig(FACTORS, (FACTORS / FACTORS.max(axis=0)) @ q) < 0.5


def test_noise_gives_mig_near_zero():
    assert mig(FACTORS, RNG.standard_normal((N, 5))) < 0.03


def test_duplicated_codes_give_mig_zero():
    codes = FACTORS.astype(float)
    assert mig(FACTORS, np.concatenate([codes, codes], axis=1)) == pytest.approx(0.0, abs=1e-12)


def test_mig_matches_a_direct_count_computation():
    rng = np.random.default_rng(5)
    codes = np.concatenate([FACTORS + rng.normal(0, 0.6, FACTORS.shape), rng.standard_normal((N, 2))], axis=1)
    expected = brute_force_mig(FACTORS, codes)
    assert 0.05 < expected < 0.95  # a case that is neither trivially 0 nor 1
    assert mig(FACTORS, codes) == pytest.approx(expected, abs=1e-10)


def test_constant_factor_is_an_error():
    factors = np.concatenate([FACTORS, np.zeros((N, 1), int)], axis=1)
    with pytest.raises(ValueError, match=r"factors columns \[3\] take a single value"):
        mig(factors, FACTORS.astype(float))


def test_row_mismatch_is_an_error():
    with pytest.raises(ValueError, match="factors has 2000 rows but 1999 were expected"):
        mig(FACTORS, FACTORS[1:].astype(float))


def test_dataset_level_mig_on_known_representations():
    dataset = FactorImages()
    scores = {
        name: compute_mig(dataset, rep, np.random.default_rng(1), num_train=1500)["mig"]
        for name, rep in [
            ("identity", identity),
            ("rotated", rotated),
            ("noise", make_noise()),
            ("dup", duplicated),
        ]
    }
    assert scores["identity"] > 0.97
    assert scores["rotated"] < 0.5 * scores["identity"]
    assert scores["noise"] < 0.03
    assert scores["dup"] == pytest.approx(0.0, abs=1e-12)


def test_same_seed_same_mig():
    dataset, rep = FactorImages(), rotated
    a = compute_mig(dataset, rep, np.random.default_rng(9), num_train=500)
    b = compute_mig(dataset, rep, np.random.default_rng(9), num_train=500, batch_size=77)
    c = compute_mig(dataset, rep, np.random.default_rng(10), num_train=500)
    assert a == b and a != c
