"""Figures and report of a sweep: bands over seeds, missing runs named, claim (4) judged from numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from minirtc.experiments.plots import (
    RunData,
    SweepData,
    _as_picture,
    load_sweep,
    make_figures,
    missing_note,
    seed_band,
    traversal_images,
)
from minirtc.experiments.report import build_report, judge_claim4, mean_sd, write_report
from minirtc.experiments.sweep import RunSpec, RunState, make_spec, open_sweep, run_sweep


def test_seed_band_is_the_t_interval_of_the_mean():
    series = [
        (np.array([0, 10]), np.array([1.0, 3.0])),
        (np.array([0, 10]), np.array([3.0, 5.0])),
        (np.array([0, 20]), np.array([2.0, np.inf])),  # inf (singular covariance) is left out
    ]
    steps, mean, lo, hi, n = seed_band(series, level=0.9)
    assert steps.tolist() == [0, 10] and n.tolist() == [3, 2]
    assert mean == pytest.approx([2.0, 4.0])
    half0 = stats.t.ppf(0.95, 2) * 1.0 / np.sqrt(3)  # values 1, 3, 2: sd 1
    half1 = stats.t.ppf(0.95, 1) * np.sqrt(2) / np.sqrt(2)  # values 3, 5: sd sqrt(2)
    assert hi - mean == pytest.approx([half0, half1])
    assert mean - lo == pytest.approx([half0, half1])
    one = seed_band([(np.array([5]), np.array([7.0]))])
    assert one[2].tolist() == one[3].tolist() == [7.0]  # one seed: no band


def test_traversal_decodes_one_dimension_per_row():
    class EchoTrainer:  # decodes z (B, D) into a (1, 1, D) "image" equal to z
        def decode_latents(self, z):
            return z.reshape(len(z), 1, 1, z.shape[1])

    base = np.array([0.1, 0.2, 0.3])
    values = np.array([-1.0, 0.0, 2.0])
    grid = traversal_images(EchoTrainer(), base, values, (1, 1, 3))  # (D, K, 1, 1, D)
    assert grid.shape == (3, 3, 1, 1, 3)
    for k in range(3):
        for j, v in enumerate(values):
            expected = base.copy()
            expected[k] = v
            assert grid[k, j, 0, 0] == pytest.approx(expected)


def test_pictures_for_grey_rgb_and_vectors():
    grey, cmap = _as_picture(np.full((4, 5, 1), 0.5))
    assert grey.shape == (4, 5) and cmap == "gray"
    rgb, cmap = _as_picture(np.full((4, 5, 3), 2.0))
    assert rgb.shape == (4, 5, 3) and cmap is None and rgb.max() == 1.0
    strip, _ = _as_picture(np.arange(8.0).reshape(1, 1, 8))
    assert strip.tolist() == [list(np.arange(8.0))]


def _fake_sweep(tc: dict[tuple[str, float], tuple[list[float], list[float]]]) -> SweepData:
    """A SweepData whose finished runs end with the given (TC_mean, TC_sample) per seed."""
    betas = tuple(sorted({b for _, b in tc}))
    spec = make_spec("laptop", "gaussian", betas=betas, seeds=(0, 1, 2))
    runs = []
    for run in spec.runs():
        means, samples = tc[(run.model, run.beta)]
        row = {"kind": "eval", "step": 100, "tc_mean": means[run.seed], "tc_sample": samples[run.seed]}
        state = RunState(run, Path("/nonexistent") / run.name, "finished", None, None)
        runs.append(RunData(state, [{"kind": "train", "step": 100, "elbo": -50.0}], [row], None, None, None))
    return SweepData(Path("/nonexistent"), spec, runs)


def test_claim4_verdicts_follow_the_numbers():
    paper_like = _fake_sweep(
        {
            ("rtc-vae", 2.0): ([0.30, 0.32, 0.31], [0.30, 0.30, 0.30]),
            ("rtc-vae", 6.0): ([0.20, 0.21, 0.19], [0.20, 0.20, 0.20]),
            ("rtc-vae", 10.0): ([0.10, 0.12, 0.11], [0.10, 0.10, 0.10]),
            ("factor-vae", 2.0): ([2.0, 2.2, 2.1], [0.3, 0.3, 0.3]),
            ("factor-vae", 6.0): ([4.0, 4.2, 4.1], [0.3, 0.3, 0.3]),
            ("factor-vae", 10.0): ([8.0, 8.2, 8.1], [0.3, 0.3, 0.3]),
        }
    )
    lines = judge_claim4(paper_like)
    assert len(lines) == 4 and all("— holds." in line for line in lines), lines
    # ratios 6.67, 7.33, 7.00: sd 1/3, half-width t(0.975, 2) / 3 / sqrt(3) = 0.83
    assert "β=2: 2.100 vs 0.300, ratio 7.00 [6.17, 7.83] (n=3, holds)" in lines[1]
    flipped = _fake_sweep(
        {
            ("rtc-vae", 2.0): ([3.0, 3.0, 3.0], [0.3, 0.3, 0.3]),
            ("rtc-vae", 6.0): ([3.0, 3.0, 3.0], [0.3, 0.3, 0.3]),
            ("rtc-vae", 10.0): ([3.0, 3.0, 3.0], [0.3, 0.3, 0.3]),
            ("factor-vae", 2.0): ([0.5, 0.5, 0.5], [0.4, 0.4, 0.4]),
            ("factor-vae", 6.0): ([0.4, 0.4, 0.4], [0.4, 0.4, 0.4]),
            ("factor-vae", 10.0): ([0.3, 0.3, 0.3], [0.4, 0.4, 0.4]),
        }
    )
    assert all("— does not hold." in line for line in judge_claim4(flipped))
    text = build_report(flipped, {}, Path("/nonexistent"))
    assert "| rtc-vae | 6 | 3 | 0.300 ± 0.000 | 3.000 ± 0.000 |" in text


def test_claim4_cannot_be_judged_where_the_seeds_straddle_the_threshold():
    spread = _fake_sweep(
        {
            ("rtc-vae", 2.0): ([0.3, 0.9, 0.3], [0.3, 0.3, 0.3]),  # gap 0, 0.6, 0: interval contains 0.1
            ("rtc-vae", 6.0): ([0.3, 0.9, 0.3], [0.3, 0.3, 0.3]),
            ("factor-vae", 2.0): ([0.3, 1.5, 0.6], [0.3, 0.3, 0.3]),  # ratios 1, 5, 2: contains 2
            ("factor-vae", 6.0): ([0.6, 0.3, 1.5], [0.3, 0.3, 0.3]),  # the same values: no rise
        }
    )
    lines = judge_claim4(spread)
    assert all("— cannot be judged." in line for line in lines), lines


def test_diagnostic_table_means_the_last_quarter_of_each_run():
    from minirtc.experiments.claims import diagnostic_table

    spec = make_spec("laptop", "gaussian", models=("factor-vae",), betas=(2.0,), seeds=(0, 1))
    runs = []
    for run in spec.runs():
        accuracy = [
            0.9,
            0.8,
            0.6 + 0.1 * run.seed,
            0.7 + 0.1 * run.seed,
        ]  # steps 100..400: last quarter > 300
        train = [
            {"kind": "train", "step": 100 * (i + 1), "disc_accuracy": a, "tc": 0.0}
            for i, a in enumerate(accuracy)
        ]
        evals = [{"kind": "eval", "step": 400, "mean_sigma2": 0.01 * (run.seed + 1)}]
        state = RunState(run, Path("/nonexistent") / run.name, "finished", None, None)
        runs.append(RunData(state, train, evals, None, None, None))
    row = diagnostic_table(SweepData(Path("/nonexistent"), spec, runs))[2]
    half = stats.t.ppf(0.975, 1) * np.std([0.7, 0.8], ddof=1) / np.sqrt(2)
    assert row.startswith(f"| factor-vae | 2 | 2 | 0.750 [{0.75 - half:.3f}, {0.75 + half:.3f}] |"), row
    assert "| 0.000 [0.000, 0.000] |" in row and "0.0150 [" in row


def test_intervals_against_closed_forms():
    from minirtc.experiments.claims import t_interval, welch_interval

    one = t_interval([1.0, 2.0, 3.0])  # sd 1
    half = stats.t.ppf(0.975, 2) / np.sqrt(3)
    assert (one.mean, one.n) == (2.0, 3) and (one.hi - one.mean) == pytest.approx(half)
    assert t_interval([4.0]).lo == -np.inf  # one seed: no interval
    diff = welch_interval([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])  # the second group has no spread
    assert diff.mean == 2.0 and (diff.hi - diff.mean) == pytest.approx(half)
    a, b = [1.0, 2.0, 3.0, 4.0], [0.0, 2.0]
    va, vb = np.var(a, ddof=1) / 4, np.var(b, ddof=1) / 2
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 1)
    assert welch_interval(a, b).hi - 1.5 == pytest.approx(stats.t.ppf(0.975, df) * np.sqrt(va + vb))


def test_mean_sd_skips_missing_values():
    assert mean_sd([1.0, 3.0, None, float("inf")]) == (2.0, pytest.approx(np.sqrt(2)), 2)
    assert mean_sd([5.0]) == (5.0, 0.0, 1)
    assert mean_sd([])[2] == 0


@pytest.fixture(scope="module")
def sweep_with_a_missing_run(tmp_path_factory) -> Path:
    """Two tiny finished runs (seed 0), then the grid extended by seed 1, never trained."""
    sweep = tmp_path_factory.mktemp("plots") / "sweep"
    tiny = dict(
        hidden=(16,),
        latent_dim=3,
        disc_hidden=16,
        disc_layers=1,
        batch_size=32,
        steps=30,
        lr=3e-3,
        subset=None,
        log_every=10,
        eval_every=10,
        checkpoint_every=30,
        eval_size=200,
    )
    spec = make_spec(
        "laptop",
        "gaussian",
        betas=(4.0,),
        seeds=(0,),
        train_overrides=tiny,
        metrics_overrides=dict(metrics=["unsupervised"], num_train=200, num_eval=100),
    )
    run_sweep(sweep, spec, echo=lambda line: None)
    extended = make_spec(
        "laptop",
        "gaussian",
        betas=(4.0,),
        seeds=(1,),
        train_overrides=tiny,
        metrics_overrides=dict(metrics=["unsupervised"], num_train=200, num_eval=100),
    )
    open_sweep(sweep, extended)
    return sweep


def test_figures_plot_what_exists_and_name_what_is_missing(sweep_with_a_missing_run, tmp_path):
    sweep = sweep_with_a_missing_run
    data = load_sweep(sweep)
    assert [r.state.state for r in data.runs] == ["finished", "finished", "pending", "pending"]
    note = missing_note(data, width=1000)
    assert "factor-vae \u03b2=4 seed 1 (pending)" in note and "rtc-vae \u03b2=4 seed 1 (pending)" in note
    lines = []
    written = make_figures(sweep, tmp_path / "figs", num_points=300, echo=lines.append)
    expected = {
        "tc_over_training_factor-vae",
        "tc_over_training_rtc-vae",
        "tc_mean_comparison",
        "elbo",
        "pairplot_factor-vae",
        "pairplot_rtc-vae",
        "traversals_factor-vae",
        "traversals_rtc-vae",
        "reconstructions",
    }
    assert set(written) == expected
    assert lines[0] == note  # the missing runs are said on stdout too
    import matplotlib.image

    for path in written.values():
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and min(image.shape[:2]) > 100, path
        assert image[..., :3].std() > 0.01, f"{path} is blank"

    report = write_report(sweep, plots=False, echo=lambda line: None)
    text = report.read_text()
    assert "`gaussian` — procedural" in text and "2 finished" in text and "2 pending" in text
    assert "| factor-vae | 4 | 1 |" in text and "rtc-vae_beta4_seed1` is pending" in text
    assert "unsupervised.gaussian_tc_mean" in text
    summary = json.loads((sweep / "rtc-vae_beta4_seed0" / "summary.json").read_text())
    assert f"{summary['tc_mean']:.3f}" in text


def test_report_scale_gives_each_model_the_settings_its_runs_use():
    spec = make_spec(
        "cpu", "gaussian", models=("factor-vae", "beta-tcvae"), betas=(2.0,), seeds=(0,), steps=300
    )
    text = build_report(SweepData(Path("/nonexistent"), spec, []), {}, Path("/nonexistent"))
    factor = spec.config(RunSpec("factor-vae", 2.0, 0))
    assert (factor.steps, factor.batch_size, factor.disc_layers, factor.disc_hidden) == (300, 2048, 4, 512)
    assert "**Training (factor-vae):** 300 steps, batch 2048, lr 0.004," in text
    assert f"discriminator 4 × 512 at lr {factor.disc_lr};" in text
    tcvae_line = next(line for line in text.splitlines() if "**Training (beta-tcvae):**" in line)
    assert "300 steps, batch 2048" in tcvae_line and "discriminator" not in tcvae_line
