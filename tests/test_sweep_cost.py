"""The sweep's plan and cost (--dry-run): counts against the grid's closed form, hours against
steps / (3,600 x steps/s), measured figures only from runs whose step costs the same, and a dry
run that writes nothing.  Also the CPU dry check of benchmarks/gpu_check.sh."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from minirtc.cli import main
from minirtc.experiments.sweep import (
    RunSpec,
    SweepError,
    Throughput,
    assumed_throughput,
    describe_cost,
    grid_counts,
    grid_hours,
    make_spec,
    measured_throughput,
    open_sweep,
    read_throughput,
    step_settings,
    throughput_record,
)
from minirtc.training import records

REPO = Path(__file__).resolve().parents[1]


def paper_spec(dataset="dsprites", models=("factor-vae", "rtc-vae", "beta-tcvae"), **kw):
    return make_spec("paper", dataset, models=models, betas=(2.0, 6.0), seeds=(0, 1, 2), **kw)


def test_counts_are_the_grids_closed_form():
    spec = paper_spec(steps=1000)
    counts = grid_counts(spec)
    runs_per_model = 2 * 3  # betas x seeds
    for model, count in counts.items():
        draws = 1 if model == "beta-tcvae" else 2  # the discriminator's second batch
        assert count == {
            "runs": runs_per_model,
            "steps": runs_per_model * 1000,
            "images": runs_per_model * 1000 * 64 * draws,
        }
    assert sum(c["runs"] for c in counts.values()) == 3 * 2 * 3  # models x betas x seeds


def test_hours_are_steps_over_rate():
    specs = [paper_spec(d, steps=3600) for d in ("dsprites", "shapes3d")]
    counts = [grid_counts(s) for s in specs]
    rates = {"factor-vae": 2.0, "rtc-vae": 4.0, "beta-tcvae": 8.0}
    hours = grid_hours(counts, Throughput(rates, "test", True, "GPU"))
    # each model: 2 datasets x 6 runs x 3,600 steps / (3,600 s/h x rate)
    assert hours == pytest.approx({m: 12 / rate for m, rate in rates.items()})
    lines = describe_cost([(Path(s.dataset), s) for s in specs], assumed_throughput(10.0, specs[0]))
    total = 3 * 12 * 3600 / (3600 * 10.0)
    assert f"estimate: {total:,.1f} GPU-hours at the ASSUMED throughput" in "\n".join(lines)
    assert "ASSUMED 10 steps/s per run" in "\n".join(lines)


def record_of(runs, device="cuda"):
    return {
        "format": "minirtc-throughput",
        "version": 1,
        "machine": {"device": device, "name": "Test GPU"},
        "runs": runs,
    }


def run_entry(config, steps, wall_s, dataset="dsprites-procedural"):
    return {"dataset": dataset, "steps": steps, "wall_s": wall_s, "settings": step_settings(config)}


def test_measured_rates_come_only_from_runs_with_the_same_step_cost():
    spec = paper_spec(models=("factor-vae", "rtc-vae"))
    rtc = spec.config(RunSpec("rtc-vae", 6.0, 0))
    other_batch = dataclasses.replace(rtc, batch_size=128)
    runs = [run_entry(rtc, 2000, 10.0), run_entry(rtc, 1000, 10.0), run_entry(other_batch, 2000, 1.0)]
    rate = measured_throughput(record_of(runs), spec, "r.json")
    assert rate.steps_per_s == {"rtc-vae": pytest.approx(3000 / 20.0)}  # pooled: steps / wall
    assert rate.missing == ("factor-vae",) and rate.measured and rate.hardware == "GPU"
    text = "\n".join(describe_cost([(Path("s"), spec)], rate))
    assert "MEASURED in r.json on Test GPU" in text
    assert "estimate: none: no figure for factor-vae" in text
    factor = spec.config(RunSpec("factor-vae", 2.0, 1))
    both = measured_throughput(record_of([*runs, run_entry(factor, 100, 2.0)], "cpu"), spec, "r.json")
    assert both.missing == () and both.hardware == "CPU"
    hours = 6 * 300_000 / 3600 * (1 / 150.0 + 1 / 50.0)
    assert f"estimate: {hours:,.1f} CPU-hours at the measured throughput" in "\n".join(
        describe_cost([(Path("s"), spec)], both)
    )


def test_a_throughput_record_is_written_from_finished_runs_and_read_back(tmp_path):
    spec = paper_spec(models=("rtc-vae",))
    config = spec.config(RunSpec("rtc-vae", 2.0, 0))
    run = tmp_path / "run"
    run.mkdir()
    records.atomic_write_json(run / records.CONFIG, config.to_dict())
    with pytest.raises(SweepError, match="summary.json"):
        throughput_record([run], {"device": "cuda", "name": "G"})
    records.atomic_write_json(run / records.SUMMARY, {"status": "finished", "steps": 500, "wall_s": 4.0})
    per_step = 64 * 2  # rtc-vae's discriminator draws a second batch
    for step, seconds in ((300, 2.0), (500, 1.0)):  # log intervals of 300 and 200 steps
        interval = step - (0 if step == 300 else 300)
        records.append_history(
            run, {"kind": "train", "step": step, "images_per_s": interval * per_step / seconds}
        )
    records.append_history(run, {"kind": "eval", "step": 500})
    record = throughput_record([run], {"device": "cuda", "name": "G"})
    records.atomic_write_json(tmp_path / "t.json", record)
    again = read_throughput(tmp_path / "t.json")
    assert again["runs"][0]["steps_per_s"] == 125.0  # 500 steps in 4 s, the evaluation included
    assert again["runs"][0]["train_steps_per_s"] == pytest.approx(500 / 3.0)  # the two intervals
    rate = measured_throughput(again, spec, "t.json")
    assert rate.steps_per_s == {"rtc-vae": 125.0}
    assert rate.training_only == {"rtc-vae": pytest.approx(500 / 3.0)}
    assert "rtc-vae: 125.0 steps/s per run (its training steps alone: 166.7)" in "\n".join(
        describe_cost([(Path("s"), spec)], rate)
    )


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "cannot read"),
        ('{"format": "other"}', "is not a throughput record"),
        ('{"format": "minirtc-throughput", "version": 1, "runs": [{"steps": 1}]}', "'runs' must be"),
    ],
)
def test_a_bad_throughput_file_is_one_clear_line(tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = CliRunner().invoke(main, ["sweep", "--profile", "paper", "--dry-run", "--throughput", str(bad)])
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_paper_dry_run_plans_every_dataset_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no benchmarks/results here: no measured figure
    runner = CliRunner()
    result = runner.invoke(main, ["sweep", "--profile", "paper", "--dry-run"])
    assert result.exit_code == 0, result.output
    runs, steps = 3 * 2 * 5 * 10, 3 * 2 * 5 * 10 * 300_000  # datasets x models x betas x seeds
    assert f"x 10 seeds = {runs:,} runs" in result.output
    assert f"total: {steps:,} optimiser steps, {steps * 64 * 2:,} images drawn" in result.output
    assert "throughput: none measured" in result.output
    assert f"estimate: GPU-hours = {steps:,} steps / (3,600 x steps/s of one run)" in result.output
    assert list(tmp_path.iterdir()) == []
    assumed = runner.invoke(main, ["sweep", "--profile", "paper", "--dry-run", "--steps-per-s", "250"])
    assert f"estimate: {steps / 250 / 3600:,.1f} GPU-hours at the ASSUMED throughput" in assumed.output
    refused = runner.invoke(main, ["sweep", "--dataset", "gaussian", "--steps-per-s", "250"])
    assert refused.exit_code != 0 and "give --dry-run" in refused.output
    assert list(tmp_path.iterdir()) == []


def tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_dry_run_leaves_a_saved_sweep_untouched(tmp_path):
    saved = tmp_path / "sweep"
    open_sweep(saved, make_spec("laptop", "gaussian", betas=(2.0,), seeds=(0,)))
    before = tree(saved)
    runner = CliRunner()
    resumed = runner.invoke(main, ["sweep", "--out", str(saved), "--dry-run"])
    assert resumed.exit_code == 0, resumed.output
    assert "= 2 runs" in resumed.output  # 2 models x 1 beta x 1 seed
    extended = ["--dataset", "gaussian", "--betas", "6", "--seeds", "1", "--out", str(saved), "--dry-run"]
    grown = runner.invoke(main, ["sweep", *extended])
    assert grown.exit_code == 0, grown.output
    assert "x 2 betas (2,6) x 2 seeds = 8 runs" in grown.output  # the saved grid and the new one
    clash = runner.invoke(main, ["sweep", "--profile", "paper", *extended])
    assert clash.exit_code != 0 and "other settings" in clash.output  # as a real run would say
    assert tree(saved) == before
    fresh = runner.invoke(
        main, ["sweep", "--dataset", "gaussian", "--out", str(tmp_path / "new"), "--dry-run"]
    )
    assert fresh.exit_code == 0 and not (tmp_path / "new").exists()


@pytest.mark.slow
def test_gpu_check_dry_runs_on_cpu_and_a_failing_part_lets_the_others_report(tmp_path):
    """The CPU dry check at toy sizes; the benchmark part is made to fail on purpose."""
    env = {
        **os.environ,
        "OUT": str(tmp_path),
        "TESTS": "tests/test_torch_fastpath.py",  # holds cuda-marked tests: they skip here
        "SECTIONS": "no-such-section",
        "PAPER_STEPS": "2",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "cpu"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = (tmp_path / "summary.txt").read_text()
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    outcomes = dict(re.findall(r"^(.+?)\s{2,}(ok|failed|timed out)", summary, flags=re.MULTILINE))
    assert outcomes == {
        "machine": "ok",
        "1. CUDA tests (-m cuda)": "ok",
        "2. benchmark on cpu": "failed",
        "3. paper-profile sweep": "ok",
        "3. paper-grid plan": "ok",
    }, summary
    assert "skipped" in (tmp_path / "cuda-tests.txt").read_text()
    record = read_throughput(tmp_path / "gpu-throughput.json")
    assert record["machine"]["device"] == "cpu"
    assert sorted(r["settings"]["model"] for r in record["runs"]) == ["factor-vae", "rtc-vae"]
    for run in (tmp_path / "paper-sweep").glob("*_seed0"):
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["status"] == "finished" and set(metrics["scores"]) == {"mig"}
    plan = (tmp_path / "paper-plan.txt").read_text()
    assert "MEASURED in" in plan and "CPU-hours at the measured throughput" in plan


def test_gpu_check_refuses_an_unknown_device(tmp_path):
    done = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "tpu"],
        env={**os.environ, "OUT": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "usage:" in done.stderr and not list(tmp_path.iterdir())


def test_dry_run_states_the_batch_each_model_trains_at(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid = ["sweep", "--profile", "cpu", "--dataset", "dsprites-procedural", "--dry-run"]
    grid += ["--models", "factor-vae,beta-tcvae", "--betas", "6", "--seeds", "0"]
    result = CliRunner().invoke(main, grid)
    assert result.exit_code == 0, result.output
    assert "per run: 750/6,750 optimiser steps at batch 2,048" in result.output
    assert "total: 7,500 optimiser steps, " + f"{(750 * 2 + 6750) * 2048:,} images drawn" in result.output
