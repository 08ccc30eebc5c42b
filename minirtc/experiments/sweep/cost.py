"""A sweep's size and cost: runs, training steps, images drawn, and hours at a throughput.

The hours are only as good as the steps/s they divide by, so every figure says where it
came from: measured (a throughput record written from finished runs whose step costs
the same, see `throughput_record`) or assumed (a number the user gave).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minirtc.experiments.sweep.grid import RunSpec, SweepError, SweepSpec
from minirtc.training import records
from minirtc.training.config import TrainConfig

THROUGHPUT_FORMAT = "minirtc-throughput"
THROUGHPUT_VERSION = 1
# Where `minirtc sweep --dry-run` looks for a recorded throughput when none is given.
DEFAULT_THROUGHPUT = Path("benchmarks/results/gpu-throughput.json")
# The TrainConfig fields that set what one training step costs: a measured run stands
# for a sweep's model only when they all agree (data size, seed and schedule do not count).
STEP_COST_FIELDS = (
    "model",
    "tc_estimator",
    "backend",
    "arch",
    "batch_size",
    "latent_dim",
    "hidden",
    "disc_hidden",
    "disc_layers",
    "dtype",
    "bf16",
)


@dataclass(frozen=True)
class Throughput:
    """Steps/s of one run, by model, and where they come from."""

    steps_per_s: dict[str, float]  # model -> training steps per second of one run
    source: str  # one line: measured where and how, or assumed
    measured: bool
    hardware: str  # "GPU" or "CPU": what the hours are hours of
    missing: tuple[str, ...] = ()  # models of the sweep with no figure
    training_only: dict[str, float] | None = None  # model -> steps/s of the training steps alone


def grid_counts(spec: SweepSpec) -> dict[str, dict[str, int]]:
    """Per model: runs, training steps and images drawn over the sweep's whole grid.

    Images count as the training logs do: batch size per step, twice for models whose
    discriminator draws a second batch (docs/estimators.md#density-ratio-discriminator).
    """
    counts = {model: {"runs": 0, "steps": 0, "images": 0} for model in spec.models}
    for run in spec.runs():
        config = spec.config(run)
        draws = 2 if config.objective.needs_discriminator else 1
        count = counts[run.model]
        count["runs"] += 1
        count["steps"] += config.steps
        count["images"] += config.steps * config.batch_size * draws
    return counts


def grid_hours(counts: list[dict[str, dict[str, int]]], throughput: Throughput) -> dict[str, float]:
    """Per model: hours of one run at a time, its steps over all `counts` / (3,600 x steps/s)."""
    models = dict.fromkeys(model for count in counts for model in count)
    return {
        model: sum(c[model]["steps"] for c in counts if model in c) / (3600 * throughput.steps_per_s[model])
        for model in models
    }


def step_settings(config: TrainConfig) -> dict[str, Any]:
    """The fields of `config` that set a step's cost, as they read back from JSON."""
    values = config.flat()  # the objective's fields (model, tc_estimator) beside the others
    if values["arch"] != "mlp":
        values["hidden"] = None  # the MLP's widths; the conv network has its own
    return json.loads(json.dumps({name: values[name] for name in STEP_COST_FIELDS}, default=list))


def assumed_throughput(steps_per_s: float, spec: SweepSpec) -> Throughput:
    """One figure for every model, given by the user: an assumption, not a measurement."""
    if not steps_per_s > 0:
        raise SweepError(f"--steps-per-s must be a number > 0, got {steps_per_s}")
    return Throughput(
        {model: steps_per_s for model in spec.models},
        f"ASSUMED {steps_per_s:g} steps/s per run (given with --steps-per-s; not measured)",
        measured=False,
        hardware=_hardware(spec),
    )


def throughput_record(run_dirs: list[str | Path], machine: dict[str, Any]) -> dict[str, Any]:
    """The throughput record of finished runs: each run's settings, steps, wall time, steps/s.

    `machine` says what they ran on ({"device": "cuda" or "cpu", "name": ...}).  A run's
    rate is its steps over its whole wall time, evaluations and checkpoints included (for
    runs trained in one go: a resumed run's wall time covers its last stretch only); its
    training-only rate comes from the log intervals of its history.
    """
    runs = []
    for run_dir in map(Path, run_dirs):
        config = TrainConfig.from_file(run_dir / records.CONFIG)
        summary = _read_json(run_dir / records.SUMMARY)
        if summary.get("status") != "finished" or not summary.get("wall_s"):
            raise SweepError(f"{run_dir} holds no finished run with a wall time (summary.json)")
        steps, wall_s = int(summary["steps"]), float(summary["wall_s"])
        runs.append(
            {
                "run_dir": str(run_dir),
                "dataset": config.dataset,
                "device": config.device,
                "steps": steps,
                "wall_s": wall_s,
                "steps_per_s": steps / wall_s,
                "train_steps_per_s": _training_rate(run_dir, config),
                "settings": step_settings(config),
            }
        )
    return {"format": THROUGHPUT_FORMAT, "version": THROUGHPUT_VERSION, "machine": machine, "runs": runs}


def _training_rate(run_dir: Path, config: TrainConfig) -> float | None:
    """Steps/s over the history's training log intervals (the images/s each row records)."""
    images_per_step = config.batch_size * (2 if config.objective.needs_discriminator else 1)
    step, seconds = 0, 0.0
    for row in records.read_history(run_dir):
        if row.get("kind") == "train" and row.get("images_per_s"):
            seconds += (row["step"] - step) * images_per_step / row["images_per_s"]
            step = row["step"]
    return step / seconds if seconds > 0 else None


def read_throughput(path: str | Path) -> dict[str, Any]:
    """A throughput record saved as JSON; SweepError if it is not one."""
    record = _read_json(Path(path))
    if record.get("format") != THROUGHPUT_FORMAT or record.get("version") != THROUGHPUT_VERSION:
        raise SweepError(
            f"{path} is not a throughput record ({THROUGHPUT_FORMAT} version {THROUGHPUT_VERSION}); "
            "write one with benchmarks/gpu_check.sh"
        )
    runs = record.get("runs")
    fields = {"dataset": str, "settings": dict, "steps": int, "wall_s": (int, float)}
    if not isinstance(runs, list) or not all(
        isinstance(run, dict)
        and all(isinstance(run.get(k), t) for k, t in fields.items())
        and run["wall_s"] > 0
        for run in runs
    ):
        raise SweepError(f"{path}: 'runs' must be a list of runs with {', '.join(fields)} (wall_s > 0)")
    return record


def measured_throughput(record: dict[str, Any], spec: SweepSpec, source: str) -> Throughput:
    """Each model's steps/s pooled over the record's runs whose step costs what the sweep's does.

    Pooled as total steps over total wall time; a model with no such run is listed as missing.
    """
    machine = record.get("machine", {})
    found, training, missing, used = {}, {}, [], []
    for model in spec.models:
        wanted = step_settings(spec.config(RunSpec(model, spec.betas[0], spec.seeds[0])))
        runs = [run for run in record["runs"] if run["settings"] == wanted]
        if runs:
            found[model] = sum(r["steps"] for r in runs) / sum(r["wall_s"] for r in runs)
            rates = [r.get("train_steps_per_s") for r in runs]
            if all(isinstance(rate, (int, float)) and rate > 0 for rate in rates):
                training[model] = sum(r["steps"] for r in runs) / sum(
                    r["steps"] / t for r, t in zip(runs, rates)
                )
            used += runs
        else:
            missing.append(model)
    steps = sorted({r["steps"] for r in used})
    datasets = sorted({r["dataset"] for r in used})
    described = (
        f"MEASURED in {source} on {machine.get('name', 'an unnamed machine')} "
        f"({machine.get('device', '?')}): whole runs of {'/'.join(f'{s:,}' for s in steps)} steps on "
        f"{', '.join(datasets)}, evaluation and checkpoints included"
        if used
        else f"{source} holds no run whose step costs what this sweep's does "
        f"(same {', '.join(STEP_COST_FIELDS)})"
    )
    hardware = "GPU" if machine.get("device") == "cuda" else "CPU"
    return Throughput(found, described, True, hardware, tuple(missing), training)


def plan_throughput(
    spec: SweepSpec, steps_per_s: float | None = None, path: str | Path | None = None
) -> Throughput | None:
    """The figure to estimate hours with: assumed if `steps_per_s` is given, else measured in
    `path` (or DEFAULT_THROUGHPUT when it exists), else None."""
    if steps_per_s is not None:
        return assumed_throughput(steps_per_s, spec)
    if path is None and not DEFAULT_THROUGHPUT.exists():
        return None
    path = Path(path or DEFAULT_THROUGHPUT)
    return measured_throughput(read_throughput(path), spec, str(path))


def describe_cost(plans: list[tuple[Path, SweepSpec]], throughput: Throughput | None) -> list[str]:
    """Lines for --dry-run: the grid, its totals, and the hours at `throughput` (None: no figure)."""
    specs = [spec for _, spec in plans]
    counts = [grid_counts(spec) for spec in specs]
    first = specs[0]
    runs = sum(c["runs"] for cs in counts for c in cs.values())
    steps = sum(c["steps"] for cs in counts for c in cs.values())
    images = sum(c["images"] for cs in counts for c in cs.values())
    datasets = ", ".join(spec.dataset for spec in specs)
    configs = [spec.config(run) for spec in specs for run in spec.runs()]
    per_run = sorted({config.steps for config in configs})
    batches = sorted({config.batch_size for config in configs})
    lines = [
        f"the grid: {len(specs)} dataset{'s' if len(specs) > 1 else ''} ({datasets}) x "
        f"{len(first.models)} models ({', '.join(first.models)}) x {len(first.betas)} betas "
        f"({','.join(f'{b:g}' for b in first.betas)}) x {len(first.seeds)} seeds = {runs:,} runs",
        *(f"  {spec.dataset}: {len(spec.runs()):,} runs -> {out}" for out, spec in plans),
        f"per run: {'/'.join(f'{s:,}' for s in per_run)} optimiser steps "
        f"at batch {'/'.join(f'{b:,}' for b in batches)}",
        f"total: {steps:,} optimiser steps, {images:,} images drawn "
        "(batch x steps, twice for a discriminator's second batch)",
    ]
    hours_of = f"{throughput.hardware if throughput else _hardware(first)}-hours"
    if throughput is None:
        return lines + [
            "throughput: none measured for these settings and no --steps-per-s given "
            f"(record one with benchmarks/gpu_check.sh and copy it to {DEFAULT_THROUGHPUT})",
            f"estimate: {hours_of} = {steps:,} steps / (3,600 x steps/s of one run)",
        ]
    lines.append(f"throughput: {throughput.source}")
    if throughput.measured:
        alone = throughput.training_only or {}
        lines += [
            f"  {m}: {sps:,.1f} steps/s per run"
            + (f" (its training steps alone: {alone[m]:,.1f})" if m in alone else "")
            for m, sps in throughput.steps_per_s.items()
        ]
    if throughput.missing:
        return lines + [
            f"estimate: none: no figure for {', '.join(throughput.missing)} "
            "(give --steps-per-s to assume one for every model)"
        ]
    per_model = grid_hours(counts, throughput)
    kind = "measured" if throughput.measured else "ASSUMED"
    lines.append(
        f"estimate: {sum(per_model.values()):,.1f} {hours_of} at the {kind} throughput, one run at a "
        f"time ({', '.join(f'{m} {h:,.1f}' for m, h in per_model.items())}); metric evaluation not included"
    )
    if first.group_seeds:
        lines.append(
            "  (--group-seeds trains each cell's seeds as one ensemble: the estimate is for separate "
            "runs; see benchmarks/run.py's ensemble section for the speed-up)"
        )
    return lines


def _hardware(spec: SweepSpec) -> str:
    """What the sweep's runs would run on: a torch sweep whose device may be CUDA, a GPU."""
    gpu = spec.train.get("backend") == "torch" and spec.train.get("device", "auto") in ("auto", "cuda")
    return "GPU" if gpu else "CPU"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SweepError(f"cannot read {path}: {error}") from None
    if not isinstance(value, dict):
        raise SweepError(f"{path} does not hold a JSON object")
    return value
