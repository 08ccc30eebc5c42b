"""Resuming: which runs still need work, and how they are split into tasks."""

from __future__ import annotations

from pathlib import Path

from minirtc.experiments.sweep.grid import SweepSpec
from minirtc.experiments.sweep.state import RunState, needs_work
from minirtc.experiments.sweep.tasks import GroupTask, RunTask


def plan_tasks(
    sweep_dir: str | Path, spec: SweepSpec, states: list[RunState], retry_failed: bool = False
) -> list[RunTask | GroupTask]:
    """The tasks that bring the runs needing work to completion: one per run, or one per
    (model, beta) cell with spec.group_seeds (only its runs needing work; finished runs stay out)."""
    needs = {state.run.name for state in states if needs_work(state, spec, retry_failed)}
    sweep_dir, saved = str(sweep_dir), spec.to_dict()
    if not spec.group_seeds:
        return [RunTask(sweep_dir, saved, s.run.name, retry_failed) for s in states if s.run.name in needs]
    groups = [tuple(run.name for run in cell if run.name in needs) for cell in spec.cells()]
    return [GroupTask(sweep_dir, saved, names, retry_failed) for names in groups if names]


def describe_plan(spec: SweepSpec) -> list[str]:
    """Lines for --dry-run: how the grid's runs are split into tasks."""
    if not spec.group_seeds:
        return [f"{len(spec.runs())} runs, one task each"]
    seeds = ",".join(str(s) for s in sorted(spec.seeds))
    lines = [f"{len(spec.runs())} runs in {len(spec.cells())} groups, each trained as one torch ensemble:"]
    return lines + [f"  {cell[0].model} beta {cell[0].beta:g}: seeds {seeds}" for cell in spec.cells()]
