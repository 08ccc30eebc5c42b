"""Stops: SIGTERM and SIGINT write a checkpoint and say how to resume; SIGKILL at random
moments loses only the steps since the last checkpoint, and every resume continues to
the same history as a run never stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
from click.testing import CliRunner

from minirtc.cli import main
from minirtc.training import checkpoint as checkpoints
from minirtc.training.records import read_history

CLI = [sys.executable, "-m", "minirtc.cli"]
TINY = [
    "--dataset", "gaussian", "--subset", "0", "--hidden", "16", "--latent-dim", "3", "--batch-size", "32",
    "--log-every", "2", "--eval-every", "10", "--checkpoint-every", "10", "--eval-size", "32", "--seed", "5",
    "--quiet",
]  # fmt: skip
STEPS = ["--steps", "1000"]  # long enough that no stopped run reaches the end within a stop's random delay


def strip_timing(rows):
    return [{k: v for k, v in r.items() if k not in ("images_per_s", "wall_s")} for r in rows]


def history_size(run) -> int:
    try:
        return (run / "history.jsonl").stat().st_size
    except FileNotFoundError:
        return 0


def wait_for_progress(proc, run, size: int, deadline: float) -> bool:
    """Until the history grows past `size` bytes; False if the process ended first."""
    while history_size(run) <= size:
        if proc.poll() is not None:
            return False
        assert time.time() < deadline, "no progress"
        time.sleep(0.01)
    return True


def test_ten_random_kills_and_two_signals_end_with_the_uninterrupted_history(tmp_path):
    reference, run = tmp_path / "reference", tmp_path / "run"
    done = CliRunner().invoke(main, ["train", *TINY, *STEPS, "--out", str(reference)])
    assert done.exit_code == 0, done.output
    rng = np.random.default_rng(14)
    stops = (
        [signal.SIGKILL] * 5
        + [signal.SIGTERM]
        + [signal.SIGKILL] * 3
        + [signal.SIGINT]
        + [signal.SIGKILL] * 2
    )
    kills = 0
    deadline = time.time() + 600
    for index, how in enumerate(stops):
        resume = ["--resume"] if index else []
        proc = subprocess.Popen(
            [*CLI, "train", *TINY, *STEPS, "--out", str(run), *resume],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if not wait_for_progress(proc, run, history_size(run), deadline):
            break  # it finished before the stop
        time.sleep(rng.uniform(0, 0.3))  # a random moment: mid-step, mid-row, mid-checkpoint
        os.kill(proc.pid, how)
        _, err = proc.communicate()
        if how == signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL
            kills += 1
            continue
        assert proc.returncode == 130, err
        last = err.strip().splitlines()[-1]
        assert last.startswith(f"Error: stopped by {how.name} at step ") and "resume with: minirtc" in last, (
            err
        )
        step = int(last.split(" at step ")[1].split(";")[0])
        assert step % 2 == 0 and checkpoints.load_latest(run)["step"] == step  # a last checkpoint
    assert kills == 10, f"the run finished after {kills} kills; give it more steps"
    assert not (run / "summary.json").exists()
    final = subprocess.run([*CLI, "train", *TINY, *STEPS, "--out", str(run), "--resume"], capture_output=True)
    assert final.returncode == 0, final.stderr
    assert strip_timing(read_history(run)) == strip_timing(read_history(reference))


def test_sigterm_stops_a_sweep_with_a_checkpoint_and_how_to_resume(tmp_path):
    sweep = tmp_path / "sweep"
    args = [*CLI, "sweep", "--dataset", "gaussian", "--models", "rtc-vae", "--betas", "2", "--seeds", "0"]
    args += ["--steps", "100000", "--no-eval", "--out", str(sweep)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not list(sweep.glob("*/checkpoint-*.json")):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert "stopped by SIGTERM at step" in last and "rerunning the same `minirtc sweep` command" in last
    (run,) = [p.parent for p in sweep.glob("*/config.json")]
    step = int(last.split(" at step ")[1].split(";")[0])
    assert checkpoints.load_latest(run)["step"] == step
    assert not (run / "summary.json").exists()  # not recorded as failed: it resumes as partial
