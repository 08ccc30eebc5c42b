"""The state of each run of a sweep, read from the run's own files, never from a separate ledger.

A sweep killed at any moment therefore resumes correctly.  A run is `finished`
(summary.json says finished), `failed` (summary.json says failed, with the error),
`partial` (a checkpoint, no summary) or `pending`.  A rerun skips finished runs,
resumes partial ones from their checkpoint, and leaves failed ones alone unless asked
to retry them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minirtc.experiments.sweep.directory import METRICS_FILE, read_spec
from minirtc.experiments.sweep.grid import RunSpec, SweepError, SweepSpec
from minirtc.training import checkpoint, records

STATES = ("finished", "failed", "partial", "pending")


@dataclass(frozen=True)
class RunState:
    """What a run directory says about one grid point."""

    run: RunSpec
    path: Path
    state: str  # one of STATES
    error: str | None  # the recorded error of a failed run
    evaluated: str | None  # None, "finished" or "failed" (metrics.json's status)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as error:
        raise SweepError(f"cannot read {path}: {error}") from error


def run_state(run: RunSpec, run_dir: Path) -> RunState:
    """The state of one run, derived only from the files in `run_dir`."""
    summary = _read_json(run_dir / records.SUMMARY)
    metrics = _read_json(run_dir / METRICS_FILE)
    evaluated = None if metrics is None else metrics.get("status")
    if summary is not None and summary.get("status") in ("finished", "failed"):
        return RunState(run, run_dir, summary["status"], summary.get("error"), evaluated)
    state = "partial" if checkpoint.exists(run_dir) else "pending"
    return RunState(run, run_dir, state, None, evaluated)


def sweep_states(sweep_dir: str | Path, spec: SweepSpec | None = None) -> list[RunState]:
    """The state of every run of the sweep, in grid order."""
    sweep_dir = Path(sweep_dir)
    spec = spec or read_spec(sweep_dir)
    return [run_state(run, sweep_dir / run.name) for run in spec.runs()]


def count_states(states: list[RunState]) -> dict[str, int]:
    """{state: number of runs} over STATES, plus "evaluated"."""
    counts = {s: sum(r.state == s for r in states) for s in STATES}
    counts["evaluated"] = sum(r.evaluated == "finished" for r in states)
    return counts


def needs_training(state: RunState, retry_failed: bool) -> bool:
    """Whether the run must train: not yet finished, or failed and to be retried."""
    return state.state in ("pending", "partial") or (state.state == "failed" and retry_failed)


def needs_work(state: RunState, spec: SweepSpec, retry_failed: bool) -> bool:
    """Whether a task must visit the run: to train it, or to compute its missing (or failed) metrics."""
    if state.state in ("pending", "partial"):
        return True
    if state.state == "failed":
        return retry_failed
    wants_metrics = spec.metrics is not None
    return wants_metrics and (state.evaluated is None or (state.evaluated == "failed" and retry_failed))
