"""Sweeps (E3-E6): the grid, run states from files, resuming after a kill, failures, executors."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from minirtc.experiments.sweep import (
    PROFILES,
    RunSpec,
    SweepError,
    SweepResult,
    SweepSpec,
    make_spec,
    open_sweep,
    parse_betas,
    parse_models,
    parse_seeds,
    plan_sweep,
    read_spec,
    run_name,
    run_state,
    run_sweep,
    sweep_states,
)
from minirtc.training.loop import TIMING_KEYS
from minirtc.training.records import read_history

# A tiny grid on the toy dataset: a few seconds per run on a loaded 2-core machine.
TINY_TRAIN = dict(
    hidden=(16,),
    latent_dim=3,
    disc_hidden=16,
    disc_layers=1,
    batch_size=32,
    steps=40,
    lr=3e-3,
    disc_lr=1e-3,
    subset=None,
    log_every=10,
    eval_every=20,
    checkpoint_every=20,
    eval_size=200,
)
TINY_METRICS = dict(metrics=["unsupervised"], num_train=200, num_eval=100)


def tiny_spec(betas=(2.0,), seeds=(0, 1), **train) -> SweepSpec:
    return make_spec(
        "laptop",
        "gaussian",
        betas=betas,
        seeds=seeds,
        train_overrides={**TINY_TRAIN, **train},
        metrics_overrides=TINY_METRICS,
    )


def quiet(_line: str) -> None:
    """An echo that prints nothing."""


def results(sweep_dir: Path, spec: SweepSpec) -> dict[str, tuple]:
    """Per run: history without wall-clock fields, and the metric scores."""
    out = {}
    for run in spec.runs():
        rows = [
            {k: v for k, v in r.items() if k not in TIMING_KEYS} for r in read_history(sweep_dir / run.name)
        ]
        metrics = json.loads((sweep_dir / run.name / "metrics.json").read_text())
        out[run.name] = (rows, metrics["status"], metrics.get("scores"))
    return out


def file_times(run_dir: Path) -> dict[str, int]:
    names = ("config.json", "summary.json", "history.jsonl", "metrics.json")
    files = [run_dir / n for n in names] + sorted(run_dir.glob("checkpoint-*"))
    return {p.name: p.stat().st_mtime_ns for p in files if p.exists()}


# -- the grid ---------------------------------------------------------------------------


def test_parse_grid_options():
    assert parse_seeds("0-3") == (0, 1, 2, 3)
    assert parse_seeds("5,0-2") == (0, 1, 2, 5)
    with pytest.raises(ValueError, match="more than once"):  # refused, as `train --seeds` refuses it
        parse_seeds("5,0-2,2")
    assert parse_betas("10,2,6") == (2.0, 6.0, 10.0)
    assert parse_models("rtc-vae,factor-vae,rtc-vae") == ("rtc-vae", "factor-vae")
    for bad in ("", "3-1", "a", "-1", "1-"):
        with pytest.raises(ValueError, match="seeds"):
            parse_seeds(bad)
    for bad in ("", "2,x", "nan", "inf", "-1"):
        with pytest.raises(ValueError, match="betas"):
            parse_betas(bad)
    with pytest.raises(ValueError, match="dip-vae-i has no weight"):
        parse_models("rtc-vae,dip-vae-i")


def test_each_model_gets_its_own_weight_field():
    spec = make_spec("laptop", "dsprites-procedural", betas=(4.0,), seeds=(3,))
    factor = spec.config(RunSpec("factor-vae", 4.0, 3))
    rtc = spec.config(RunSpec("rtc-vae", 4.0, 3))
    f, r = factor.objective, rtc.objective
    assert (f.gamma, f.beta, f.eta) == (4.0, None, None)
    assert (r.beta, r.gamma, r.eta) == (4.0, None, 10.0)
    assert factor.seed == rtc.seed == 3 and factor.dataset == "dsprites-procedural"
    assert factor.extra["sweep"] == {"beta": 4.0, "weight_field": "gamma"}
    # Only the seed differs within a (model, beta) cell, so its seeds can train as one ensemble.
    other_seed = spec.config(RunSpec("factor-vae", 4.0, 5))
    assert dataclasses.replace(other_seed, seed=3) == factor
    assert rtc.extra["sweep"]["weight_field"] == "beta"
    assert run_name("rtc-vae", 2.5, 0) == "rtc-vae_beta2.5_seed0"


def test_profiles_match_the_issue():
    laptop = make_spec("laptop", "dsprites-procedural")
    assert laptop.seeds == (0, 1, 2) and laptop.betas == (2.0, 6.0, 10.0)
    assert laptop.train["backend"] == "numpy" and laptop.train["arch"] == "mlp"
    assert len(laptop.runs()) == 18
    paper = make_spec("paper", "dsprites")
    assert paper.seeds == tuple(range(10)) and paper.betas == (2.0, 4.0, 6.0, 8.0, 10.0)
    assert paper.train["arch"] == "conv" and paper.train["backend"] == "torch"
    assert (
        paper.train["steps"] == 300_000 and paper.train["batch_size"] == 64 and paper.train["subset"] is None
    )
    assert paper.per_model["rtc-vae"]["eta"] == 10.0
    quick = make_spec("laptop", "gaussian", quick=True)
    assert quick.quick and quick.train["steps"] == PROFILES["laptop"].train["steps"] // 10
    assert quick.metrics["num_train"] == PROFILES["laptop"].metrics["num_train"] // 10
    assert make_spec("laptop", "gaussian", steps=123).train["steps"] == 123
    for model in ("factor-vae", "beta-tcvae"):  # the cpu profile sets their steps per model
        own = make_spec("cpu", "gaussian", models=(model,), steps=123)
        assert own.config(own.runs()[0]).steps == 123
        quick = make_spec("cpu", "gaussian", models=(model,), quick=True)
        expected = max(100, PROFILES["cpu"].per_model[model]["steps"] // 10)
        assert quick.config(quick.runs()[0]).checked().steps == expected
    with pytest.raises(SweepError, match="profile"):
        make_spec("cluster", "gaussian")
    with pytest.raises(SweepError, match="invalid settings"):
        make_spec("laptop", "gaussian", train_overrides={"batch_size": 1})
    with pytest.raises(SweepError, match="clashing run names"):
        make_spec("laptop", "gaussian", betas=(2.0, 2.0000001))


def test_sweep_json_is_reopened_extended_or_refused(tmp_path):
    sweep = tmp_path / "sweep"
    spec = open_sweep(sweep, tiny_spec())
    assert read_spec(sweep) == spec
    extended = open_sweep(sweep, tiny_spec(betas=(6.0,), seeds=(2,)))
    assert extended.betas == (2.0, 6.0) and extended.seeds == (0, 1, 2)
    assert open_sweep(sweep, None) == extended  # resume as saved
    with pytest.raises(SweepError, match=r"train\.steps"):
        open_sweep(sweep, tiny_spec(steps=41))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("not a sweep")
    with pytest.raises(SweepError, match="not empty"):
        open_sweep(tmp_path / "other", tiny_spec())
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "sweep.json").write_text(json.dumps({"format": 1, "spec": {"models": []}}))
    with pytest.raises(SweepError, match="not hold a valid sweep spec"):
        read_spec(tmp_path / "bad")
    with pytest.raises(SweepError, match="no sweep to resume"):
        open_sweep(tmp_path / "empty", None)
    with pytest.raises(SweepError, match="--dataset"):
        plan_sweep(tmp_path / "nothing", None)
    assert plan_sweep(sweep, None) == (sweep, None)
    with pytest.raises(SweepError, match="give --dataset"):
        plan_sweep(sweep, None, seeds=(4,))


def test_run_state_comes_from_the_files(tmp_path):
    run = RunSpec("rtc-vae", 2.0, 0)
    d = tmp_path / "r"
    assert run_state(run, d).state == "pending"
    d.mkdir()
    (d / "config.json").write_text("{}")
    assert run_state(run, d).state == "pending"
    (d / "checkpoint.pkl").write_bytes(b"x")
    assert run_state(run, d).state == "partial"
    (d / "summary.json").write_text(json.dumps({"status": "failed", "error": "loss became NaN"}))
    state = run_state(run, d)
    assert (state.state, state.error, state.evaluated) == ("failed", "loss became NaN", None)
    (d / "summary.json").write_text(json.dumps({"status": "finished"}))
    (d / "metrics.json").write_text(json.dumps({"status": "finished", "scores": {}}))
    assert (run_state(run, d).state, run_state(run, d).evaluated) == ("finished", "finished")
    (d / "summary.json").write_text("{torn")
    with pytest.raises(SweepError, match="summary.json"):
        run_state(run, d)


# -- running ---------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_failed_run_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    from minirtc.training.trainer import Trainer

    original_step = Trainer.step

    def overflowing_step(self):  # the beta-6 run's loss overflows at step 1
        original_step(self)
        if self.config.objective.beta == 6.0:
            params = self.train_state.params
            params["decoder"]["b0"] = params["decoder"]["b0"] * np.inf

    monkeypatch.setattr(Trainer, "step", overflowing_step)
    spec = tiny_spec(betas=(2.0, 6.0), seeds=(0,), steps=20)
    spec = SweepSpec.from_dict({**spec.to_dict(), "models": ["rtc-vae"]})
    sweep = tmp_path / "sweep"
    result = run_sweep(sweep, spec, echo=quiet)
    states = {s.run.beta: s for s in result.states}
    assert states[2.0].state == "finished" and states[2.0].evaluated == "finished"
    assert states[6.0].state == "failed" and "NaN or inf" in states[6.0].error
    assert not (states[6.0].path / "metrics.json").exists()
    lines = []
    again = run_sweep(sweep, None, echo=lines.append)
    assert again.outcomes == []  # nothing retried, nothing redone
    assert any("not retried" in line and "beta6" in line for line in lines)
    retried = run_sweep(sweep, None, retry_failed=True, echo=quiet)
    assert [(o["run"], o["state"]) for o in retried.outcomes] == [("rtc-vae_beta6_seed0", "failed")]


def test_non_nan_fault_is_recorded_as_failed(tmp_path):
    spec = tiny_spec(seeds=(0,), data_dir=str(tmp_path / "no-data-here"))
    spec = SweepSpec.from_dict({**spec.to_dict(), "dataset": "dsprites", "models": ["rtc-vae"]})
    sweep = tmp_path / "sweep"
    result = run_sweep(sweep, spec, echo=quiet)
    (state,) = result.states
    assert state.state == "failed" and "dsprites" in state.error
    summary = json.loads((state.path / "summary.json").read_text())
    assert summary["status"] == "failed" and "Traceback" in summary["traceback"]


KILLED_SWEEP = """
import json, sys
from minirtc.experiments.sweep import SweepSpec, run_sweep
run_sweep(sys.argv[1], SweepSpec.from_dict(json.loads(open(sys.argv[2]).read())))
"""


def _wait_for_kill_point(
    process: subprocess.Popen, sweep: Path, spec: SweepSpec, timeout: float = 240
) -> None:
    """Poll until one run is finished and evaluated and another holds a checkpoint without summary."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the sweep ended before it could be killed mid-way"
        states = sweep_states(sweep, spec) if (sweep / "sweep.json").exists() else []
        if any(s.evaluated == "finished" for s in states) and any(s.state == "partial" for s in states):
            return
        time.sleep(0.02)
    raise AssertionError("the sweep never reached a state with a finished and a partial run")


@pytest.mark.slow
def test_killed_sweep_resumes_to_the_uninterrupted_results(tmp_path):
    spec = tiny_spec(seeds=(0,))  # two runs: the kill comes while the second is half done
    reference = tmp_path / "reference"
    run_sweep(reference, spec, jobs=2, echo=quiet)  # uninterrupted, in 2 spawned processes

    killed, result = kill_and_resume(tmp_path, spec)
    assert len(result.states) == len(spec.runs())
    assert results(killed, spec) == results(reference, spec)


def kill_and_resume(tmp_path: Path, spec: SweepSpec, script: str = KILLED_SWEEP) -> tuple[Path, SweepResult]:
    """Start `spec` in a process running `script`, kill it mid-way (SIGKILL), resume it here.

    Asserts that the runs finished before the kill are neither trained nor rewritten
    again and that every run ends finished and evaluated.
    """
    killed = tmp_path / "killed"
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec.to_dict()))
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(killed), str(spec_file)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_kill_point(process, killed, spec)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    before = {s.run.name: s for s in sweep_states(killed, spec)}
    done_before = {name: file_times(s.path) for name, s in before.items() if s.evaluated == "finished"}
    assert done_before and any(s.state == "partial" for s in before.values())

    result = run_sweep(killed, None, echo=quiet)
    trained = {o["run"] for o in result.outcomes if o["trained"]}
    assert trained and not trained & set(done_before), "a finished run was trained again"
    for name, times in done_before.items():
        assert file_times(killed / name) == times, f"{name} was rewritten"
    assert all(s.state == "finished" and s.evaluated == "finished" for s in result.states)
    return killed, result


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray for the executor tests (starting one takes seconds)."""
    ray = pytest.importorskip("ray", reason="the ray executor needs Ray: pip install 'minirtc[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_executor_runs_the_grid(tmp_path, ray_session):
    spec = tiny_spec(seeds=(0,), steps=20)  # two runs, one per model
    result = run_sweep(tmp_path / "sweep", spec, executor="ray", echo=quiet)
    assert sorted(o["run"] for o in result.outcomes) == sorted(r.name for r in spec.runs())
    assert all(s.state == "finished" and s.evaluated == "finished" for s in result.states)
    run_sweep(tmp_path / "local", spec, echo=quiet)
    assert results(tmp_path / "sweep", spec) == results(tmp_path / "local", spec)  # same numbers as local


@pytest.mark.torch
def test_ray_executor_runs_a_group_of_seeds_as_one_task(tmp_path, ray_session):
    pytest.importorskip("torch")
    from test_sweep_groups import assert_close_results

    spec = tiny_spec(seeds=(0, 1), steps=20, backend="torch", dtype="float64", device="cpu")
    spec = dataclasses.replace(spec, models=("rtc-vae",))
    grouped = dataclasses.replace(spec, group_seeds=True)
    result = run_sweep(tmp_path / "ray", grouped, executor="ray", echo=quiet)
    assert sorted((o["run"], o["group"]) for o in result.outcomes) == [
        ("rtc-vae_beta2_seed0", 2),
        ("rtc-vae_beta2_seed1", 2),
    ]  # both seeds trained in one call: one Ray task
    run_sweep(tmp_path / "separate", spec, echo=quiet)
    assert_close_results(results(tmp_path / "ray", spec), results(tmp_path / "separate", spec))
