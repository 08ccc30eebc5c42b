"""The suite: per-metric seeding (same seed, same numbers, whatever else runs) and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from test_metrics_toydata import FactorImages, encode_identity, identity

from minirtc.metrics import (
    METRICS,
    RepresentationError,
    compute_mig,
    evaluate_representation,
    format_table,
    metric_rng,
)
from minirtc.metrics.suite import resolve_metrics

TINY = dict(num_train=150, num_eval=100, num_elbo=150, progress=False)


def encode_rotated(images):
    """mu mixes the factors (a fixed rotation), logvar varies with the input."""
    mu, _ = encode_identity(images)
    rot = np.array([[0.6, -0.8, 0.0], [0.8, 0.6, 0.0], [0.0, 0.0, 1.0]])
    return mu @ rot, -2.0 + 0.5 * mu


def test_all_metrics_run_and_give_every_score():
    results = evaluate_representation(FactorImages(), encode_rotated, "all", seed=0, **TINY)
    assert list(results) == list(METRICS)
    assert set(results["dci"]) == {
        "disentanglement",
        "completeness",
        "informativeness_train",
        "informativeness_test",
    }
    assert {"gaussian_tc_mean", "gaussian_tc_sampled", "active_units"} <= set(results["unsupervised"])
    assert {"mi", "tc", "dim_kl", "kl"} <= set(results["elbo_decomposition"])
    assert results["elbo_decomposition"]["num_points"] == 150.0
    assert all(np.isfinite(v) for scores in results.values() for v in scores.values())


def test_same_seed_same_numbers_whatever_else_runs():
    ds = FactorImages()
    together = evaluate_representation(
        ds, encode_rotated, ["mig", "beta_vae", "unsupervised"], seed=3, **TINY
    )
    alone = evaluate_representation(ds, encode_rotated, "unsupervised,mig", seed=3, **TINY)
    assert alone["mig"] == together["mig"] and alone["unsupervised"] == together["unsupervised"]
    other_seed = evaluate_representation(ds, encode_rotated, ["mig"], seed=4, **TINY)
    assert other_seed["mig"] != together["mig"]


def test_suite_equals_the_metric_called_with_its_rng():
    ds = FactorImages()
    suite = evaluate_representation(ds, encode_identity, ["mig"], seed=5, **TINY)
    direct = compute_mig(ds, identity, metric_rng(5, "mig"), num_train=150)
    assert suite["mig"] == direct


def test_metric_rngs_differ_between_metrics():
    draws = {name: metric_rng(0, name).integers(2**62) for name in METRICS}
    assert len(set(draws.values())) == len(METRICS)


def test_format_table_lists_every_score():
    table = format_table({"mig": {"mig": 0.5}, "dci": {"completeness": 0.25}})
    assert table.splitlines() == ["mig.mig" + " " * 15 + "0.5000", "dci.completeness" + " " * 6 + "0.2500"]


@pytest.mark.parametrize("bad", ["mig,nope", [], ["MIG"], "", 3])
def test_unknown_metric_names_are_an_error(bad):
    with pytest.raises(ValueError, match="metrics must be 'all' or names from"):
        resolve_metrics(bad)


def test_bad_seed_and_sizes_are_errors():
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        evaluate_representation(FactorImages(), encode_identity, ["mig"], seed=-1, **TINY)
    with pytest.raises(ValueError, match="num_train must be an integer >= 1"):
        evaluate_representation(
            FactorImages(), encode_identity, ["mig"], num_train=0, num_eval=5, progress=False
        )


# -- bad input from the representation or the dataset ----------------------


def test_wrong_batch_size_from_the_representation():
    def drops_one(images):
        return identity(images)[:-1]

    with pytest.raises(RepresentationError, match=r"returned shape \(63, 3\) for a batch of 64 images"):
        compute_mig(FactorImages(), drops_one, np.random.default_rng(0), num_train=100)


def test_nan_codes_from_the_representation():
    def nan_codes(images):
        codes = identity(images)
        codes[0, 1] = np.nan
        return codes

    with pytest.raises(RepresentationError, match="NaN or inf codes"):
        compute_mig(FactorImages(), nan_codes, np.random.default_rng(0), num_train=100)


def test_encode_fn_must_return_a_pair():
    with pytest.raises(RepresentationError, match=r"encode_fn must return a pair \(mu, logvar\)"):
        evaluate_representation(FactorImages(), identity, ["mig"], **TINY)


def test_fewer_points_than_bins():
    with pytest.raises(ValueError, match="10 samples but the discretisation uses 20 bins"):
        compute_mig(FactorImages(), identity, np.random.default_rng(0), num_train=10)


def test_dataset_without_factors():
    class NoFactors:
        name = "plain-images"
        factor_sizes = ()

    with pytest.raises(ValueError, match="'plain-images' has no ground-truth factors"):
        evaluate_representation(NoFactors(), encode_identity, ["mig"], **TINY)


def test_dataset_whose_factors_never_vary():
    with pytest.raises(ValueError, match="no factor with more than one value"):
        compute_mig(FactorImages((1, 1)), identity, np.random.default_rng(0), num_train=50)


def test_rng_must_be_a_generator():
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        compute_mig(FactorImages(), identity, 0, num_train=50)
