"""E1 (estimators vs both references) and E2 (Theorem 1, shut-down dimension): known answers.

Closed forms cross-checked two ways, exact identities of the estimators on
constructed inputs (MWS's constants, a shut-down dimension factoring out),
statistics with stated tolerances, determinism, the CLI's files and its errors.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

import minirtc
from minirtc.cli import main
from minirtc.experiments import estimators as e1
from minirtc.experiments import theorem1 as e2
from minirtc.experiments import theorem1_summary as e2_summary
from minirtc.experiments.discriminator import DiscriminatorConfig, discriminator_tc_of, train_discriminator
from minirtc.experiments.outputs import json_safe, prepare_out_dir, read_csv, write_csv, write_json
from minirtc.experiments.run import run_theorem1
from minirtc.experiments.synthetic import (
    equicorrelation,
    equicorrelation_tc,
    gaussian_latents,
    theorem1_bound,
)

TINY_E1 = e1.EstimatorStudyConfig(
    dims=(2, 3),
    rhos=(0.5,),
    sigmas=(0.2, 1.0),
    batch_sizes=(8, 16),
    dataset_size=64,
    repeats=2,
    discriminator=None,
    summary_dim=3,
)

# ---------------------------------------------------------------------------
# Synthetic latents and closed forms
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("D, rho, c2", [(2, 0.3, 0.0), (5, 0.9, 0.25), (10, 0.999, 1.0), (3, -0.4, 0.1)])
def test_equicorrelation_tc_matches_gaussian_tc(D, rho, c2):
    # eigenvalue formula vs the core's slogdet of the correlation matrix
    expected = minirtc.gaussian_tc(equicorrelation(D, rho) + c2 * np.eye(D))
    assert equicorrelation_tc(D, rho, c2) == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_two_dimensional_tc_is_minus_half_log_one_minus_rho_squared():
    assert equicorrelation_tc(2, 0.6) == pytest.approx(-0.5 * math.log(1 - 0.36), rel=1e-12)


@pytest.mark.parametrize("rho", [-0.6, 1.0, 1.2])
def test_equicorrelation_rejects_non_positive_definite_rho(rho):
    with pytest.raises(ValueError, match="rho must lie in"):
        equicorrelation(3, rho)


def test_theorem1_bound_holds_and_tc_mu_diverges():
    D, c = 10, 0.5
    gaps = np.logspace(-2, -12, 11)
    tc_z = [equicorrelation_tc(D, 1 - g, c * c) for g in gaps]
    tc_mu = [minirtc.gaussian_tc(equicorrelation(D, 1 - g)) for g in gaps]
    assert max(tc_z) < theorem1_bound(D, c)
    # TC(mu) = -0.5 [log(1 + (D-1) rho) + (D-1) log(1 - rho)]: (D-1)/2 log 10 per decade
    assert np.diff(tc_mu) == pytest.approx(np.full(len(gaps) - 1, 4.5 * math.log(10)), rel=1e-3)
    assert tc_z[-1] - tc_z[-2] < 1e-9  # TC(z) has levelled off


def test_gaussian_latents_population_covariance(rng):
    S = equicorrelation(3, 0.7)
    latents = gaussian_latents(rng, 40_000, S, 0.5)
    z = latents.draw(rng, 40_000)
    assert latents.cov_z == pytest.approx(S + 0.25 * np.eye(3))
    assert np.cov(z.T) == pytest.approx(latents.cov_z, abs=0.04)  # ~ 5 standard errors at n = 40k
    assert np.all(latents.logvar == 2 * math.log(0.5))


def test_gaussian_latents_batch_is_distinct_items_and_checks_size(rng):
    latents = gaussian_latents(rng, 50, np.eye(2), 0.1)
    z, mu, logvar = latents.batch(rng, 50)
    assert len(np.unique(mu[:, 0])) == 50  # every item exactly once
    with pytest.raises(ValueError, match="batch_size must be in"):
        latents.batch(rng, 51)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        gaussian_latents(rng, 10, np.eye(2), np.array([0.1, 0.0]))


def test_singular_mean_covariance_is_allowed(rng):
    cov_mu, widths = e2.shutdown_case("shut down and correlated", 4, 0.1)
    latents = gaussian_latents(rng, 2000, cov_mu, widths)
    assert latents.mu[:, 0] == pytest.approx(-0.1 * latents.mu[:, 1], abs=1e-9)  # exactly on a line
    assert e2.tc_of_means(cov_mu) == math.inf
    assert latents.population_tc() < 0.01  # while TC(z) is tiny (paper Fig. 2)


# ---------------------------------------------------------------------------
# E1
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_rows():
    return e1.run_estimator_study(TINY_E1)


def test_e1_rows_one_per_setting_and_repeat(tiny_rows):
    assert len(tiny_rows) == 2 * 1 * 2 * 2 * 2  # dims x rhos x sigmas x batch sizes x repeats
    keys = {(r["latent_dim"], r["sigma"], r["batch_size"], r["repeat"]) for r in tiny_rows}
    assert len(keys) == len(tiny_rows)
    assert all(math.isnan(r["tc_discriminator"]) for r in tiny_rows)  # skipped in this config


def test_e1_mws_constant_is_exactly_d_minus_1_log_nm(tiny_rows):
    for r in tiny_rows:
        expected = (r["latent_dim"] - 1) * math.log(r["dataset_size"] * r["batch_size"])
        assert r["tc_mws"] - r["tc_mws-noconst"] == pytest.approx(expected, abs=1e-9)


def test_e1_population_reference_is_the_closed_form(tiny_rows):
    for r in tiny_rows:
        S = equicorrelation(r["latent_dim"], r["rho"]) + r["sigma"] ** 2 * np.eye(r["latent_dim"])
        assert r["tc_population"] == pytest.approx(minirtc.gaussian_tc(S), abs=1e-12)


def test_e1_is_deterministic_and_independent_of_jobs(tiny_rows):
    again = e1.run_estimator_study(TINY_E1, jobs=2)
    assert _nan_as_none(again) == _nan_as_none(tiny_rows)
    other_seed = e1.run_estimator_study(replace(TINY_E1, seed=1, dims=(2,), batch_sizes=(8,)))
    assert other_seed[0]["tc_exact"] != tiny_rows[0]["tc_exact"]


def _nan_as_none(rows):
    """Rows with NaN replaced by None, so == compares them (NaN != NaN)."""
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]


def test_e1_mss1_tracks_the_exact_mixture_tc_where_references_differ():
    # D = 6, sigma = 0.1: the finite mixture's TC is ~ 6 log 10 - log N above the population's
    config = replace(TINY_E1, dims=(6,), rhos=(0.0,), sigmas=(0.1,), batch_sizes=(128,), dataset_size=512)
    rows = e1.run_estimator_study(config)
    for r in rows:
        assert r["tc_exact"] - r["tc_population"] > 5.0
        assert abs(r["tc_mss1"] - r["tc_exact"]) < 1.0
        assert abs(r["tc_mss1"] - r["tc_exact"]) < abs(r["tc_mss0"] - r["tc_exact"])


def test_e1_error_table_by_hand():
    rows = [
        {"latent_dim": 10, "batch_size": 4, "sigma": 0.1, "tc_population": 0.0, "tc_exact": 2.0}
        | {f"tc_{e}": v for e in e1.MINIBATCH_METHODS}
        | {"tc_discriminator": math.nan}
        for v in (1.0, 3.0)
    ]
    table = e1.error_table(rows, 10, 4)
    assert [t["estimator"] for t in table] == list(e1.MINIBATCH_METHODS)  # nan-only discriminator left out
    assert table[0]["mean_error_population"] == pytest.approx(2.0)
    assert table[0]["std_error_population"] == pytest.approx(math.sqrt(2.0))
    assert table[0]["mean_error_exact"] == pytest.approx(0.0)
    text = e1.format_error_table(table, 10, 4)
    assert "+2.00 +- 1.41" in text and "D = 10, M = 4" in text


def test_e1_config_rejects_bad_grids():
    with pytest.raises(ValueError, match="batch size must be <= dataset_size"):
        replace(TINY_E1, batch_sizes=(128,))
    with pytest.raises(ValueError, match="dims must be"):
        replace(TINY_E1, dims=(1, 2))
    with pytest.raises(ValueError, match="rhos must be"):
        replace(TINY_E1, rhos=(1.0,))


def test_discriminator_learns_known_tc(rng):
    config = DiscriminatorConfig(hidden=32, layers=2, steps=250, batch_size=256, lr=5e-3)
    results = {}
    for rho in (0.0, 0.9):
        S = equicorrelation(2, rho)
        latents = gaussian_latents(rng, 4096, S, 0.3)
        params, losses = train_discriminator(rng, latents.draw, 2, config)
        results[rho] = (discriminator_tc_of(params, latents.draw(rng, 4000)), latents.population_tc(), losses)
    tc_d, tc_true, losses = results[0.9]
    assert tc_true == pytest.approx(-0.5 * math.log(1 - (0.9 / 1.09) ** 2), abs=1e-12)  # 0.5725
    assert abs(tc_d - tc_true) < 0.2
    assert losses[-25:].mean() < math.log(2) - 0.05  # it learned to tell real from permuted
    assert abs(results[0.0][0]) < 0.1  # nothing to find


# ---------------------------------------------------------------------------
# E2
# ---------------------------------------------------------------------------


def test_eq1_width_satisfies_the_bounds_of_eq1(rng):
    c, R, power = 0.5, 2.0, 1.0
    mu = rng.standard_normal((20_000, 4)) * 3.0
    sigma = e2.eq1_width(mu, c, R, power)
    norm = np.linalg.norm(mu, axis=1, keepdims=True)
    inside = (norm < R)[:, 0]
    assert inside.any() and (~inside).any()
    assert np.all(sigma[inside] > c / 2) and np.all(sigma[inside] < 1.5 * c)  # c1 < sigma' < c2
    c4 = c * R**power / 2
    assert np.all(sigma[~inside] < 1.5 * c) and np.all(sigma[~inside] > c4 / norm[~inside] ** power)


def test_monte_carlo_tc_matches_the_closed_form_for_a_constant_width(rng):
    S = equicorrelation(2, 0.9)
    width = functools.partial(e2.constant_width, c=0.5)
    estimates = [e2.monte_carlo_tc(rng, S, width, 3000, 600) for _ in range(3)]
    truth = equicorrelation_tc(2, 0.9, 0.25)
    assert np.mean(estimates) == pytest.approx(truth, abs=0.08)


def test_shutdown_dimension_factors_out_of_mss1_and_the_exact_tc(rng):
    """A dimension with q(z_0|n) = p(z_0) for every n is independent of the rest: it must leave
    MSS1 (rows of W sum to 1) and the exact mixture TC unchanged, and shift MWS by exactly log N."""
    D, N, M = 6, 256, 64
    cov_mu, widths = e2.shutdown_case("one shut down", D, 0.1)
    latents = gaussian_latents(rng, N, cov_mu, widths)
    z, mu, logvar = latents.batch(rng, M)
    rest = np.s_[:, 1:]  # the D - 1 active dimensions alone
    for method, shift in (("mss1", 0.0), ("mws", math.log(N)), ("mws-noconst", -math.log(M))):
        full = minirtc.decompose(z, mu, logvar, N, method).tc
        active = minirtc.decompose(z[rest], mu[rest], logvar[rest], N, method).tc
        assert full - active == pytest.approx(shift, abs=1e-8), method
    exact_full = minirtc.decompose_exact(z, mu, logvar, latents.mu, latents.logvar).tc
    exact_active = minirtc.decompose_exact(
        z[rest], mu[rest], logvar[rest], latents.mu[rest], latents.logvar[rest]
    ).tc
    assert exact_full == pytest.approx(exact_active, abs=1e-8)


def test_shutdown_effects_and_verdicts_by_hand():
    rows = []
    for repeat, (active, shut) in enumerate([(10.0, 8.0), (11.0, 9.2)]):
        base = {"repeat": repeat, "tc_population": 0.0, "tc_exact": active}
        rows.append(base | {"case": "all active"} | {f"tc_{e}": active for e in e2.SHUTDOWN_ESTIMATORS})
        rows.append(
            base
            | {"case": "one shut down", "tc_exact": shut}
            | {f"tc_{e}": shut for e in e2.SHUTDOWN_ESTIMATORS}
        )
    effects = e2.shutdown_effects(rows)
    mss1 = next(e for e in effects if e["estimator"] == "mss1")
    assert mss1["estimate_change_mean"] == pytest.approx(-1.9)
    assert mss1["reward_vs_population_mean"] == pytest.approx(-1.9)
    assert mss1["reward_vs_exact_mean"] == pytest.approx(0.0)
    assert e2_summary._verdict(mss1, "population") == "rewarded"
    assert e2_summary._verdict(mss1, "exact") == "no significant effect"


def test_theorem1_files_summary_and_determinism(tmp_path):
    config = e2.Theorem1Config.quick(
        mc_rhos=(0.0, 0.99), mc_bank=500, mc_samples=100, mc_repeats=1, shutdown_repeats=2,
        shutdown_dataset_size=256, shutdown_batch_size=64, shutdown_dim=6, discriminator=None,
    )  # fmt: skip
    written = run_theorem1(config, tmp_path)
    again = read_csv(write_csv(tmp_path / "again.csv", e2.shutdown_rows(config)))
    assert _nan_as_none(read_csv(tmp_path / "theorem1_shutdown.csv")) == _nan_as_none(again)
    for name in ("theorem1.png", "theorem1_shutdown.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(read_csv(tmp_path / "theorem1_closed_form.csv")) == len(config.log10_gaps) * len(config.widths)
    summary = json.loads((tmp_path / "theorem1_summary.json").read_text())
    assert summary == json.loads(json.dumps(json_safe(written.summary)))
    assert summary["closed_form"]["tc_mu_increasing"]
    assert all(w["below_bound_everywhere"] for w in summary["closed_form"]["per_width"])
    verdicts = summary["claim_shutdown_rewarded"]
    assert verdicts["mss1"]["vs_population"] == "rewarded"  # measured: -log(1/sigma)-ish drop, truth 0
    assert verdicts["mss1"]["vs_exact"] == "no significant effect"  # ... which the exact TC shares
    assert verdicts["discriminator"]["vs_population"] == "not measured"
    assert "shut down" in written.text and "TC(mu)" in written.text


# ---------------------------------------------------------------------------
# Outputs and CLI
# ---------------------------------------------------------------------------


def test_outputs_round_trip_and_refuse_a_file_as_folder(tmp_path):
    rows = [{"a": 1, "b": 0.1 + 0.2, "c": "x"}, {"a": 2, "b": math.inf, "c": "y"}]
    assert read_csv(write_csv(tmp_path / "t.csv", rows)) == rows
    assert json.loads(write_json(tmp_path / "s.json", {"v": math.inf, "w": np.float64(2.5)}).read_text()) == {
        "v": "inf",
        "w": 2.5,
    }
    with pytest.raises(ValueError, match="must be a directory"):
        prepare_out_dir(tmp_path / "t.csv")
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_cli_estimators_writes_csv_figures_and_summary(tmp_path):
    out = tmp_path / "e1"
    grid = "--dims 2,3 --rhos 0.5 --sigmas 1 --batch-sizes 8,16 --dataset-size 64 --repeats 2"
    args = ["experiment", "estimators", "--out", str(out), *grid.split(), "--no-discriminator", "--jobs", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = read_csv(out / "estimators.csv")
    assert len(rows) == 2 * 2 * 2
    summary = json.loads((out / "estimators_summary.json").read_text())
    assert summary["summary_dim"] == 3 and summary["reference_batch_size"] == 16  # closest D to 10 that ran
    for name in ("estimators_vs_truth.png", "estimators_error_vs_dim.png", "estimators_error_vs_batch.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "E1 estimator errors at D = 3" in result.output and str(out / "estimators.csv") in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dims", "1,2"], "every value must be >= 2"),
        (["--rhos", "0.5,1"], "< 1.0"),
        (["--batch-sizes", "a,b"], "comma-separated ints"),
        (["--batch-sizes", "4096"], "must be <= dataset_size"),
        (["--repeats", "0"], "0 is not in the range"),
    ],
)
def test_cli_estimators_rejects_bad_input(tmp_path, args, message):
    result = CliRunner().invoke(main, ["experiment", "estimators", "--out", str(tmp_path), *args])
    assert result.exit_code != 0 and message in result.output


def test_cli_theorem1_refuses_a_file_as_out(tmp_path):
    (tmp_path / "f").write_text("x")
    result = CliRunner().invoke(main, ["experiment", "theorem1", "--quick", "--out", str(tmp_path / "f")])
    assert result.exit_code == 2 and "is a file" in result.output


def test_cli_help_states_the_library_defaults():
    # the help text is written out (no heavy import for --help); it must not drift from the config
    text = " ".join(CliRunner().invoke(main, ["experiment", "estimators", "--help"]).output.split())
    config = e1.EstimatorStudyConfig()

    def listed(values):
        return ",".join(f"{v:g}" for v in values)

    expected = {
        "--rhos": listed(config.rhos),
        "--sigmas": listed(config.sigmas),
        "--batch-sizes": listed(config.batch_sizes),
        "--dataset-size": config.dataset_size,
        "--repeats": config.repeats,
        "--disc-steps": config.discriminator.steps,
    }
    for flag, value in expected.items():
        assert f"[default: {value}]" in text.rsplit(flag, 1)[1].split("--", 1)[0], flag  # the option row
    assert f"{config.dims[0]},{config.dims[1]},...,{config.dims[-1]}" in text
