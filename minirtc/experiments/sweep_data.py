"""A sweep directory read for the figures and the report: each run's state, history and records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minirtc.experiments.sweep import METRICS_FILE, RunState, SweepSpec, read_spec, sweep_states
from minirtc.training import records
from minirtc.viz.style import wrap as _wrap

__all__ = ["RunData", "SweepData", "load_sweep", "missing_note"]


@dataclass
class RunData:
    """One run's state and records (empty lists for runs without a history)."""

    state: RunState
    train_rows: list[dict[str, Any]]  # history rows of kind "train"
    eval_rows: list[dict[str, Any]]  # history rows of kind "eval"
    summary: dict[str, Any] | None
    metrics: dict[str, Any] | None  # metrics.json
    config: dict[str, Any] | None  # config.json

    @property
    def final_eval(self) -> dict[str, Any]:
        """The last evaluation row (the loop evaluates at the last step); empty if there is none."""
        return self.eval_rows[-1] if self.eval_rows else {}


@dataclass
class SweepData:
    """Everything the figures and the report read from a sweep directory."""

    path: Path
    spec: SweepSpec
    runs: list[RunData]

    def finished(self, model: str, beta: float) -> list[RunData]:
        return [
            r
            for r in self.runs
            if r.state.state == "finished" and r.state.run.model == model and r.state.run.beta == beta
        ]

    def missing(self) -> list[RunState]:
        return [r.state for r in self.runs if r.state.state != "finished"]

    def dataset_record(self) -> dict[str, Any] | None:
        """config.json's dataset record of the first run that has one."""
        for run in self.runs:
            if run.config is not None:
                return run.config.get("dataset")
        return None


def _json_or_none(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def load_sweep(sweep_dir: str | Path) -> SweepData:
    """Read sweep.json and every run's history, summary, metrics and config."""
    sweep_dir = Path(sweep_dir)
    spec = read_spec(sweep_dir)
    runs = []
    for state in sweep_states(sweep_dir, spec):
        rows = records.read_history(state.path)
        runs.append(
            RunData(
                state=state,
                train_rows=[r for r in rows if r.get("kind") == "train"],
                eval_rows=[r for r in rows if r.get("kind") == "eval"],
                summary=_json_or_none(state.path / records.SUMMARY),
                metrics=_json_or_none(state.path / METRICS_FILE),
                config=_json_or_none(state.path / records.CONFIG),
            )
        )
    return SweepData(sweep_dir, spec, runs)


def missing_note(data: SweepData, models: tuple[str, ...] | None = None, width: int = 110) -> str:
    """ "missing: factor-vae b=6 seeds 1, 2 (pending); ..." for unfinished runs, or "" if none."""
    groups: dict[tuple[str, float, str], list[int]] = {}
    for state in data.missing():
        if models is None or state.run.model in models:
            groups.setdefault((state.run.model, state.run.beta, state.state), []).append(state.run.seed)
    if not groups:
        return ""
    parts = [
        f"{m} \u03b2={b:g} seed{'s' if len(s) > 1 else ''} {', '.join(map(str, s))} ({st})"
        for (m, b, st), s in sorted(groups.items())
    ]
    text = "not plotted (unfinished runs): " + "; ".join(parts)
    return _wrap(text, width)
