"""Sweeps with grouped seeds: each (model, beta) cell's seeds train as one torch ensemble.

Compared against the same sweep run one task per run: every history row, every metric
score (float64, so "float tolerance" is tight), the files of each run directory; then
resuming (finished members skipped, partial ones levelled, a kill mid-way), a member's
NaN, the plan, and the refusal with the NumPy backend.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from test_ensemble import one_thread  # noqa: F401  (autouse: one torch thread)
from test_sweep import file_times, kill_and_resume, quiet, results, tiny_spec

from minirtc.experiments.sweep import (
    GroupTask,
    RunTask,
    SweepError,
    describe_plan,
    make_spec,
    open_sweep,
    plan_sweep,
    plan_tasks,
    read_spec,
    run_sweep,
    sweep_states,
    train_run,
)
from minirtc.training import train
from minirtc.training.records import SUMMARY, load_checkpoint, save_checkpoint

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

RTOL = 1e-9  # float64 members, as in tests/test_ensemble.py

# Two cells (factor-vae and rtc-vae at beta 2) of three seeds; checkpoints every 10
# steps, so a sweep killed mid-way leaves partial runs.
SEPARATE = tiny_spec(seeds=(0, 1, 2), backend="torch", dtype="float64", device="cpu", checkpoint_every=10)
GROUPED = dataclasses.replace(SEPARATE, group_seeds=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The grid run one task per run: what a grouped sweep must reproduce."""
    sweep = tmp_path_factory.mktemp("separate")
    run_sweep(sweep, SEPARATE, echo=quiet)
    return sweep


def assert_close_results(got: dict, want: dict, names=None) -> None:
    """Same history rows and metric scores, to RTOL, for the runs in `names` (default all)."""
    for name in names or sorted(want):
        (rows_a, status_a, scores_a), (rows_b, status_b, scores_b) = got[name], want[name]
        assert (status_a, [(r["kind"], r["step"]) for r in rows_a]) == (
            status_b,
            [(r["kind"], r["step"]) for r in rows_b],
        ), name
        for a, b in [*zip(rows_a, rows_b), (_flat(scores_a), _flat(scores_b))]:
            assert sorted(a) == sorted(b), name
            for key in b:
                if not isinstance(b[key], str):
                    np.testing.assert_allclose(a[key], b[key], rtol=RTOL, atol=1e-12, err_msg=f"{name} {key}")


def _flat(scores: dict) -> dict:
    return {f"{metric}.{k}": v for metric, values in scores.items() for k, v in values.items()}


def test_grouped_sweep_matches_separate_runs(tmp_path, reference):
    sweep = tmp_path / "grouped"
    result = run_sweep(sweep, GROUPED, echo=quiet)
    assert sorted(o["run"] for o in result.outcomes) == sorted(r.name for r in GROUPED.runs())
    assert all(o["trained"] and o["group"] == 3 for o in result.outcomes)  # 3 seeds per task
    assert all(s.state == "finished" and s.evaluated == "finished" for s in result.states)
    assert read_spec(sweep).group_seeds  # a resume groups the seeds again
    assert_close_results(results(sweep, GROUPED), results(reference, SEPARATE))
    for run in GROUPED.runs():  # the same files, config.json the same to its provenance
        files = lambda d: sorted(p.name for p in d.iterdir())
        assert files(sweep / run.name) == files(reference / run.name)
        config = json.loads((sweep / run.name / "config.json").read_text())
        assert config["train"] == json.loads((reference / run.name / "config.json").read_text())["train"]
        assert config["train"]["seed"] == run.seed


def test_resume_skips_finished_members_levels_partial_ones_and_records_a_nan(tmp_path, reference):
    """One cell: seed 0 finished, 1 partial at step 20, 2 pending, 3 partial at 20 with NaN weights.

    Seed 2 trains alone to step 20, then 1-3 together; seed 3 fails where it fails as
    a separate run, and 1 and 2 go on to the numbers of separate runs.
    """
    spec = dataclasses.replace(GROUPED, models=("rtc-vae",), seeds=(0, 1, 2, 3))
    sweep = tmp_path / "sweep"
    open_sweep(sweep, spec)
    name = {run.seed: run.name for run in spec.runs()}
    shutil.copytree(reference / name[0], sweep / name[0])
    finished_times = file_times(sweep / name[0])
    for seed in (1, 3):
        half = dataclasses.replace(spec.config(spec.run(name[seed])), steps=20)
        train(half, sweep / name[seed], progress=False)
        (sweep / name[seed] / SUMMARY).unlink()  # as if killed after the step-20 checkpoint
    checkpoint = load_checkpoint(sweep / name[3])
    weight = checkpoint["trainer"]["params"]["encoder.params.W0"]  # NumPy (a trainer's state)
    checkpoint["trainer"]["params"]["encoder.params.W0"] = np.full_like(weight, np.nan)
    save_checkpoint(sweep / name[3], checkpoint["step"], checkpoint["trainer"])
    assert [s.state for s in sweep_states(sweep, spec)] == ["finished", "partial", "pending", "partial"]
    shutil.copytree(sweep / name[3], tmp_path / "alone")  # the same member, resumed as a separate run
    assert "NaN" in train_run(spec.config(spec.run(name[3])), tmp_path / "alone")

    result = run_sweep(sweep, None, echo=quiet)
    outcomes = {o["run"]: o for o in result.outcomes}
    assert sorted(outcomes) == [name[1], name[2], name[3]]  # seed 0 was not even locked for evaluation
    assert file_times(sweep / name[0]) == finished_times
    states = {s.run.seed: s for s in result.states}
    assert [states[s].state for s in (0, 1, 2)] == ["finished"] * 3
    finished = dataclasses.replace(spec, seeds=(1, 2))  # seed 3 has no metrics.json
    assert_close_results(results(sweep, finished), results(reference, SEPARATE), names=[name[1], name[2]])

    failed = json.loads((sweep / name[3] / SUMMARY).read_text())
    assert states[3].state == "failed" and outcomes[name[3]]["state"] == "failed"
    alone = json.loads((tmp_path / "alone" / SUMMARY).read_text())
    assert (failed["failed_step"], failed["failed_term"]) == (alone["failed_step"], alone["failed_term"])
    assert failed["failed_step"] > 20 and "NaN" in failed["error"]
    assert not (sweep / name[3] / "metrics.json").exists()
    assert load_checkpoint(sweep / name[3])["step"] == 20  # the last good checkpoint is kept

    assert run_sweep(sweep, None, echo=quiet).outcomes == []  # failed runs are left alone
    retried = run_sweep(sweep, None, retry_failed=True, echo=quiet).outcomes
    assert [(o["run"], o["state"], o["group"]) for o in retried] == [(name[3], "failed", 1)]


KILLED_SWEEP = """
import json, sys, torch
from minirtc.experiments.sweep import SweepSpec, run_sweep
torch.set_num_threads(1)  # tiny models: threads only contend on a busy machine
run_sweep(sys.argv[1], SweepSpec.from_dict(json.loads(open(sys.argv[2]).read())))
"""


def test_a_fault_that_stops_the_group_is_recorded_in_every_member(tmp_path):
    spec = tiny_spec(seeds=(0, 1), backend="torch", device="cpu", data_dir=str(tmp_path / "no-data-here"))
    spec = dataclasses.replace(spec, dataset="dsprites", models=("rtc-vae",), group_seeds=True)
    result = run_sweep(tmp_path / "sweep", spec, echo=quiet)
    assert [(o["state"], o["group"]) for o in result.outcomes] == [("failed", 2)] * 2
    for state in result.states:
        assert state.state == "failed" and "dsprites" in state.error
        summary = json.loads((state.path / SUMMARY).read_text())
        assert summary["status"] == "failed" and "Traceback" in summary["traceback"]


@pytest.mark.slow
def test_killed_grouped_sweep_resumes_to_the_separate_results(tmp_path, reference):
    spec = dataclasses.replace(GROUPED, seeds=(0, 1))  # two cells of two seeds
    killed, _ = kill_and_resume(tmp_path, spec, KILLED_SWEEP)
    assert_close_results(results(killed, spec), results(reference, spec))


def test_plan_has_one_task_per_cell_of_the_runs_needing_work(tmp_path, reference):
    states = sweep_states(reference, SEPARATE)  # every run finished and evaluated
    assert plan_tasks(reference, GROUPED, states) == []
    pending = [dataclasses.replace(s, state="pending", evaluated=None) if s.run.seed else s for s in states]
    tasks = plan_tasks(reference, GROUPED, pending)
    assert [type(t) for t in tasks] == [GroupTask, GroupTask]
    assert [t.runs for t in tasks] == [
        ("factor-vae_beta2_seed1", "factor-vae_beta2_seed2"),
        ("rtc-vae_beta2_seed1", "rtc-vae_beta2_seed2"),
    ]
    separate = plan_tasks(reference, SEPARATE, pending)
    assert [type(t) for t in separate] == [RunTask] * 4
    assert describe_plan(GROUPED) == [
        "6 runs in 2 groups, each trained as one torch ensemble:",
        "  factor-vae beta 2: seeds 0,1,2",
        "  rtc-vae beta 2: seeds 0,1,2",
    ]


def test_group_seeds_needs_torch_is_saved_and_can_be_switched(tmp_path):
    with pytest.raises(SweepError, match="--group-seeds .* numpy backend"):
        make_spec("laptop", "gaussian", group_seeds=True)
    with pytest.raises(SweepError, match="numpy backend"):
        open_sweep(tmp_path / "numpy", dataclasses.replace(tiny_spec(), group_seeds=True))

    sweep = tmp_path / "sweep"
    open_sweep(sweep, make_spec("paper", "gaussian", seeds=(0,), group_seeds=True))
    assert plan_sweep(sweep, "gaussian", seeds=(1,))[1].group_seeds  # extending keeps the saved choice
    switched = plan_sweep(sweep, "gaussian", group_seeds=False)[1]
    assert not switched.group_seeds and switched.profile == "paper"
    assert not open_sweep(sweep, switched).group_seeds and not read_spec(sweep).group_seeds
    with pytest.raises(SweepError, match="give --dataset"):
        plan_sweep(sweep, None, group_seeds=True)
    old = json.loads((sweep / "sweep.json").read_text())  # a sweep.json from before the option
    del old["spec"]["group_seeds"]
    (sweep / "sweep.json").write_text(json.dumps(old))
    assert read_spec(sweep).group_seeds is False


def test_cli_dry_run_shows_the_groups_and_numpy_is_refused(tmp_path):
    from minirtc.cli import main

    runner = CliRunner()
    args = [
        "sweep",
        "--dataset",
        "gaussian",
        "--betas",
        "2,6",
        "--seeds",
        "0-3",
        "--out",
        str(tmp_path / "s"),
    ]
    shown = runner.invoke(main, [*args, "--profile", "paper", "--group-seeds", "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert "16 runs in 4 groups, each trained as one torch ensemble:" in shown.output
    assert "  rtc-vae beta 6: seeds 0,1,2,3" in shown.output
    assert '"group_seeds": true' in shown.output
    refused = runner.invoke(main, [*args, "--group-seeds", "--dry-run"])  # laptop: NumPy
    assert refused.exit_code != 0 and "numpy backend" in refused.output
    assert not (tmp_path / "s").exists()
