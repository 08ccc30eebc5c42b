"""Tasks: what one worker does to bring one run, or one cell of seeds, to completion.

A task is a small picklable record (for processes and Ray); `execute_task` takes the
runs' locks, trains what needs training (resuming from checkpoints), evaluates, and
returns one outcome per run.  A run's fault is recorded in its directory, never raised.

Grouped seeds (`group_seeds`, torch only): a task is then one (model, beta) cell, whose
pending seeds train together as one batched ensemble (`minirtc.training.ensemble.
train_seeds`) into the same run directories a task per run would write; each member
is then evaluated as a separate run.  The members match separate runs to float
tolerance, not bit for bit (the batched kernels round differently).  A cell's finished
runs are not trained again; partial members resume from their own checkpoints (the
ones furthest behind first train alone until they are level); a member that hits a
NaN is recorded as failed and the others go on.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minirtc.experiments.sweep.directory import LOCK_FILE
from minirtc.experiments.sweep.evaluate import evaluate_run
from minirtc.experiments.sweep.grid import RunSpec, SweepError, SweepSpec
from minirtc.experiments.sweep.state import RunState, needs_training, run_state
from minirtc.training import records
from minirtc.training.config import TrainConfig


@dataclass(frozen=True)
class RunTask:
    """What a worker needs to bring one run to completion (picklable, for processes and Ray)."""

    sweep_dir: str
    spec: dict[str, Any]  # SweepSpec.to_dict()
    run: str  # run name
    retry_failed: bool = False
    threads: int | None = None  # BLAS / torch threads in the worker; None leaves them alone
    log: tuple[str, ...] = ()  # live loggers (minirtc.training.loggers), each run under its own name


@dataclass(frozen=True)
class GroupTask:
    """What a worker needs to bring the runs of one (model, beta) cell to completion as one ensemble."""

    sweep_dir: str
    spec: dict[str, Any]  # SweepSpec.to_dict()
    runs: tuple[str, ...]  # run names of one cell that need work, seeds in increasing order
    retry_failed: bool = False
    threads: int | None = None  # torch threads in the worker; None leaves them alone
    log: tuple[str, ...] = ()  # live loggers (minirtc.training.loggers), each run under its own name


def task_runs(task: RunTask | GroupTask) -> tuple[str, ...]:
    """The names of the runs a task works on."""
    return task.runs if isinstance(task, GroupTask) else (task.run,)


def execute_task(task: RunTask | GroupTask) -> list[dict[str, Any]]:
    """Run one task of either kind; one outcome per run (see `execute_run`)."""
    return execute_group(task) if isinstance(task, GroupTask) else [execute_run(task)]


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on `run_dir` (blocking), so two processes never train one run.

    The lock dies with its process, so a killed sweep leaves nothing to clean up; an
    orphaned worker of a killed sweep finishes its run before a resumed sweep looks at it.
    """
    import fcntl

    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / LOCK_FILE, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def run_locks(run_dirs: list[Path]) -> Iterator[None]:
    """Hold `run_lock` on every directory, taken in sorted order so two groups never deadlock."""
    with contextlib.ExitStack() as stack:
        for run_dir in sorted(run_dirs):
            stack.enter_context(run_lock(run_dir))
        yield


def execute_run(task: RunTask) -> dict[str, Any]:
    """Train (or resume) one run, then evaluate it; returns its outcome, never raises for the run's faults.

    Outcome keys: run, state ("finished", "failed", "skipped-failed"), trained (bool: did
    this call train), evaluated (metrics.json status or None), error, wall_s, cpu_s.
    """
    spec = SweepSpec.from_dict(task.spec)
    run = spec.run(task.run)
    run_dir = Path(task.sweep_dir) / run.name
    clock = _clock()
    with _thread_limits(task.threads, torch_backend=spec.train.get("backend") == "torch"), run_lock(run_dir):
        before = run_state(run, run_dir)
        trained = needs_training(before, task.retry_failed)
        error = train_run(spec.config(run), run_dir, task.log) if trained else None
        return _finish(spec, before, trained, error, task.retry_failed, clock)


def execute_group(task: GroupTask) -> list[dict[str, Any]]:
    """Train the cell's unfinished runs as one ensemble, then evaluate each; one outcome per run.

    Holds every run's lock throughout.  Finished runs are not trained again, failed ones
    only with `retry_failed`.  Outcomes as `execute_run`'s, plus `group` (how many runs
    trained together); a trained run's wall_s and cpu_s hold its share (1/group) of the
    ensemble's training time plus its own evaluation.
    """
    spec = SweepSpec.from_dict(task.spec)
    runs = [spec.run(name) for name in task.runs]
    run_dirs = [Path(task.sweep_dir) / run.name for run in runs]
    with _thread_limits(task.threads, torch_backend=True), run_locks(run_dirs):
        before = [run_state(run, run_dir) for run, run_dir in zip(runs, run_dirs)]
        to_train = [state for state in before if needs_training(state, task.retry_failed)]
        clock = _clock()
        errors = (
            train_group(spec, [s.run for s in to_train], [s.path for s in to_train], task.log)
            if to_train
            else {}
        )
        wall_s, cpu_s = _elapsed(clock)
        outcomes = []
        for state in before:
            trained = state.run.name in errors
            share = (wall_s / len(to_train), cpu_s / len(to_train)) if trained else (0.0, 0.0)
            clock = _clock(minus=share)
            outcome = _finish(spec, state, trained, errors.get(state.run.name), task.retry_failed, clock)
            outcomes.append({**outcome, "group": len(to_train) if trained else None})
        return outcomes


def _finish(
    spec: SweepSpec,
    before: RunState,
    trained: bool,
    error: str | None,
    retry_failed: bool,
    clock: tuple[float, float],
) -> dict[str, Any]:
    """After training (or not): evaluate the run where it needs it; its outcome."""
    if before.state == "failed" and not trained:
        return _outcome(before.run, "skipped-failed", False, before.evaluated, before.error, clock)
    if error is not None:
        return _outcome(before.run, "failed", True, before.evaluated, error, clock)
    evaluated = before.evaluated
    retry_metrics = evaluated == "failed" and retry_failed
    if spec.metrics is not None and (evaluated is None or trained or retry_metrics):
        evaluated = evaluate_run(before.path, spec.metrics)["status"]
    return _outcome(before.run, "finished", trained, evaluated, None, clock)


def _clock(minus: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    """(wall, CPU) start times, set back by `minus` seconds (to charge time spent before)."""
    return time.perf_counter() - minus[0], time.process_time() - minus[1]


def _elapsed(clock: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - clock[0], time.process_time() - clock[1]


def _outcome(
    run: RunSpec,
    state: str,
    trained: bool,
    evaluated: str | None,
    error: str | None,
    clock: tuple[float, float],
) -> dict[str, Any]:
    wall_s, cpu_s = _elapsed(clock)
    return {
        "run": run.name,
        "state": state,
        "trained": trained,
        "evaluated": evaluated,
        "error": error,
        "wall_s": wall_s,
        "cpu_s": cpu_s,  # this process's CPU time: the cost on an idle machine
    }


def train_run(config: TrainConfig, run_dir: Path, log: tuple[str, ...] = ()) -> str | None:
    """Train `config` in `run_dir`, resuming from its checkpoint; the error text if it failed.

    A NaN is recorded by the training loop itself; any other exception is recorded here
    in summary.json (status "failed", error, traceback), so the sweep can go on.
    `log`: live loggers, the run named after its directory.
    """
    from minirtc.training import TrainingFailed, train
    from minirtc.training.lock import RunLocked
    from minirtc.training.loggers import open_loggers

    loggers = open_loggers(log, run_dir) if log else None
    try:
        train(config, run_dir, resume=True, progress=False, on_row=loggers)
    except TrainingFailed as error:
        return str(error)
    except RunLocked as error:  # another process trains it: not this run's failure, nothing recorded
        return str(error)
    except Exception as error:  # record every fault of one run; the sweep goes on
        message = f"{type(error).__name__}: {error}"
        _record_failure(run_dir, message)
        return message
    finally:
        if loggers is not None:
            loggers.close()
    return None


def train_group(
    spec: SweepSpec, runs: list[RunSpec], run_dirs: list[Path], log: tuple[str, ...] = ()
) -> dict[str, str | None]:
    """Train the runs of one (model, beta) cell as one ensemble, each resuming from its checkpoint.

    Returns {run name: error text or None}.  A member's NaN is recorded by the ensemble
    (the others go on); any other exception stops the group and is recorded in every
    member not yet finished, as `train_run` records it for one run.
    """
    from minirtc.training.ensemble import train_seeds
    from minirtc.training.loggers import SeedLoggers, open_loggers

    cells = sorted({(run.model, run.beta) for run in runs})
    if len(cells) != 1:
        raise SweepError(f"a group trains the seeds of one (model, beta), got {cells}")
    seeds = tuple(run.seed for run in runs)
    loggers = SeedLoggers({s: open_loggers(log, d) for s, d in zip(seeds, run_dirs)}) if log else None
    try:  # the cell's configs differ only in the seed (SweepSpec.config), as train_seeds needs
        summaries = train_seeds(
            spec.config(runs[0]), seeds, run_dirs, resume=True, progress=False, on_row=loggers
        )
    except Exception as error:  # record every fault of the group; the sweep goes on
        message = f"{type(error).__name__}: {error}"
        errors = {}
        for run, run_dir in zip(runs, run_dirs):
            if run_state(run, run_dir).state != "finished":
                _record_failure(run_dir, message)
                errors[run.name] = message
            else:
                errors[run.name] = None
        return errors
    finally:
        if loggers is not None:
            loggers.close()
    return {run.name: s.get("error") if s["status"] == "failed" else None for run, s in zip(runs, summaries)}


def _record_failure(run_dir: Path, message: str) -> None:
    """summary.json of a run stopped by an exception: status failed, the error, the traceback."""
    records.atomic_write_json(
        run_dir / records.SUMMARY,
        {"status": "failed", "error": message, "traceback": traceback.format_exc()},
    )


@contextlib.contextmanager
def _thread_limits(threads: int | None, torch_backend: bool = False) -> Iterator[None]:
    """Limit BLAS threads (and torch's, when the run uses torch) to `threads` while a task runs."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with contextlib.ExitStack() as stack:
        stack.enter_context(threadpool_limits(limits=threads))
        if torch_backend:  # torch is imported by its backend only, and only for torch runs
            from minirtc.backends.torch_backend import torch_threads

            stack.enter_context(torch_threads(threads))
        yield
