"""`run_sweep`: bring every run of a sweep to an end with an executor, reporting each outcome.

Executors: "local" runs the tasks in this process (jobs=1) or in a pool of `jobs`
spawned processes (`local.py`); "ray" submits every task as a Ray task with one GPU
where the cluster has GPUs (`ray_tasks.py`, pip install 'minirtc[ray]').
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from minirtc.experiments.sweep.directory import open_sweep
from minirtc.experiments.sweep.grid import SweepError, SweepSpec
from minirtc.experiments.sweep.local import execute_local
from minirtc.experiments.sweep.plan import plan_tasks
from minirtc.experiments.sweep.ray_tasks import execute_ray
from minirtc.experiments.sweep.state import RunState, count_states, sweep_states
from minirtc.experiments.sweep.tasks import task_runs
from minirtc.progress import progress as progress_bar

EXECUTORS = ("local", "ray")


@dataclass
class SweepResult:
    """What one `run_sweep` call did."""

    spec: SweepSpec
    outcomes: list[dict[str, Any]]  # one per run submitted, in completion order
    states: list[RunState]  # every run's state at the end
    interrupted: list[str]  # runs whose worker died (rerun the sweep to resume them)
    wall_s: float


def run_sweep(
    sweep_dir: str | Path,
    spec: SweepSpec | None = None,
    *,
    executor: str = "local",
    jobs: int = 1,
    retry_failed: bool = False,
    ray_address: str | None = None,
    echo: Callable[[str], None] = print,
    log: tuple[str, ...] = (),
) -> SweepResult:
    """Bring every run of the sweep to `finished` (or `failed`) and evaluate it.

    spec None resumes the sweep saved in `sweep_dir`; otherwise see `open_sweep`.
    `log`: live loggers for every run trained (`minirtc train --log`), each under its run's name.
    """
    if executor not in EXECUTORS:
        raise SweepError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if jobs < 1:
        raise SweepError(f"jobs must be >= 1, got {jobs}")
    start = time.perf_counter()
    sweep_dir = Path(sweep_dir)
    spec = open_sweep(sweep_dir, spec)
    before = sweep_states(sweep_dir, spec)
    counts = count_states(before)
    echo(f"sweep {sweep_dir}: {len(before)} runs ({_format_counts(counts)})")
    tasks = [
        dataclasses.replace(t, log=tuple(log)) for t in plan_tasks(sweep_dir, spec, before, retry_failed)
    ]
    total = sum(len(task_runs(task)) for task in tasks)
    if spec.group_seeds:
        echo(f"  {total} runs to work on in {len(tasks)} groups of seeds (one task per model and beta)")
    for state in before:
        if state.state == "failed" and not retry_failed:
            echo(f"  not retried (failed; --retry-failed to retry): {state.run.name}: {state.error}")
    done: list[dict[str, Any]] = []
    bar = progress_bar(total, "sweep", unit="run", log_lines=False)  # in a log, the lines below suffice

    def on_done(outcome: dict[str, Any]) -> None:
        done.append(outcome)
        bar.update(1)
        bar.write(f"[{len(done)}/{total}] {_format_outcome(outcome)}", echo)

    with bar:
        if executor == "ray":
            interrupted = execute_ray(tasks, on_done, ray_address)
        else:
            interrupted = execute_local(tasks, jobs, on_done)
    states = sweep_states(sweep_dir, spec)
    result = SweepResult(spec, done, states, interrupted, time.perf_counter() - start)
    echo(f"done in {result.wall_s:.0f} s: {_format_counts(count_states(states))}")
    for name in interrupted:
        echo(f"  interrupted (worker died; rerun the sweep to resume): {name}")
    return result


def _format_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {s}" for s, n in counts.items())


def _format_outcome(outcome: dict[str, Any]) -> str:
    text = f"{outcome['state']:<8} {outcome['run']}  ({outcome['wall_s']:.0f} s"
    text += f", {outcome['cpu_s']:.0f} s CPU" if "cpu_s" in outcome else ""
    text += ", trained" if outcome.get("trained") else ", already trained"
    if outcome.get("group"):
        text += f" with {outcome['group']} seeds at once"
    if outcome.get("evaluated"):
        text += f", metrics {outcome['evaluated']}"
    text += ")"
    if outcome.get("error"):
        text += f": {outcome['error']}"
    return text
