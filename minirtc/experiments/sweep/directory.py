"""The sweep directory: its layout, sweep.json, and creating, reopening or extending a sweep.

    SWEEP_DIR/
      sweep.json                     the grid, the profile, the shared settings, provenance
      <model>_beta<b>_seed<s>/       one run directory (minirtc.training.records) per grid point
        metrics.json                 the metric suite (docs/metrics.md) on the trained model (E6)
        .lock                        held (flock) by the process working on the run

sweep.json is the only sweep-wide file; what each run has done is read from the run's
own files (`minirtc.experiments.sweep.state`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from minirtc.experiments.sweep.grid import SweepError, SweepSpec, check_spec, make_spec
from minirtc.training import records
from minirtc.training.profiles import PROFILES

SWEEP_FILE, METRICS_FILE, LOCK_FILE = "sweep.json", "metrics.json", ".lock"
SWEEP_FORMAT = 1


def read_spec(sweep_dir: str | Path) -> SweepSpec:
    """The spec saved in `sweep_dir`/sweep.json."""
    path = Path(sweep_dir) / SWEEP_FILE
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"{sweep_dir} is not a sweep directory (no {SWEEP_FILE})") from None
    except (OSError, json.JSONDecodeError) as error:
        raise SweepError(f"cannot read {path}: {error}") from error
    if saved.get("format") != SWEEP_FORMAT:
        raise SweepError(f"{path} has format {saved.get('format')}, expected {SWEEP_FORMAT}")
    try:
        return SweepSpec.from_dict(saved["spec"])
    except (KeyError, TypeError, ValueError) as error:  # ValueError: seeds off the grammar
        raise SweepError(f"{path} does not hold a valid sweep spec: {error}") from error


def merge_spec(saved: SweepSpec, requested: SweepSpec) -> SweepSpec:
    """The saved sweep extended by the requested grid, run as requested (`group_seeds`).

    SweepError if any shared setting differs.
    """
    old, new = saved.settings(), requested.settings()
    changed = sorted(k for k in old if old[k] != new[k])
    if "train" in changed:
        changed.remove("train")
        changed += [
            f"train.{k}"
            for k in sorted(set(old["train"]) | set(new["train"]))
            if old["train"].get(k) != new["train"].get(k)
        ]
    if changed:
        raise SweepError(
            f"the sweep directory holds a sweep with other settings ({', '.join(changed)}); "
            "resume it with the same settings or choose another --out"
        )
    union = lambda a, b: tuple(dict.fromkeys((*a, *b)))
    return dataclasses.replace(
        saved,
        group_seeds=requested.group_seeds,  # how to run is the latest command's choice
        models=union(saved.models, requested.models),
        betas=tuple(sorted(set(saved.betas) | set(requested.betas))),
        seeds=tuple(sorted(set(saved.seeds) | set(requested.seeds))),
    )


def open_sweep(sweep_dir: str | Path, requested: SweepSpec | None) -> SweepSpec:
    """Create or reopen `sweep_dir` and (re)write sweep.json; returns the spec to run.

    requested None: resume the saved sweep as it is.  Otherwise a new directory gets the
    requested spec, and an existing sweep is extended by its grid (settings must match).
    """
    sweep_dir = Path(sweep_dir)
    exists = (sweep_dir / SWEEP_FILE).exists()
    if not exists and sweep_dir.exists() and any(sweep_dir.iterdir()):
        raise SweepError(f"{sweep_dir} exists, is not empty and holds no {SWEEP_FILE}; choose another --out")
    if requested is None and not exists:
        raise SweepError(f"{sweep_dir} holds no sweep to resume; give --dataset to start one")
    spec = read_spec(sweep_dir) if exists else requested
    if exists and requested is not None:
        spec = merge_spec(spec, requested)
    check_spec(spec)
    provenance = records.provenance()  # of this invocation; earlier command lines are kept
    record = {"format": SWEEP_FORMAT, "spec": spec.to_dict(), **provenance}
    previous = json.loads((sweep_dir / SWEEP_FILE).read_text()) if exists else {}
    record["created"] = previous.get("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    record["invocations"] = previous.get("invocations", []) + [provenance["argv"]]
    records.atomic_write_json(sweep_dir / SWEEP_FILE, record)
    return spec


def preview_spec(sweep_dir: str | Path, requested: SweepSpec | None) -> SweepSpec:
    """The spec `open_sweep` would run, read without writing anything (for --dry-run)."""
    if not (Path(sweep_dir) / SWEEP_FILE).exists():
        if requested is None:
            raise SweepError(f"{sweep_dir} holds no sweep to resume; give --dataset to start one")
        return requested
    saved = read_spec(sweep_dir)
    return saved if requested is None else merge_spec(saved, requested)


def plan_sweep(
    out: str | Path | None,
    dataset: str | None,
    profile: str | None = None,
    models: tuple[str, ...] | None = None,
    betas: tuple[float, ...] | None = None,
    seeds: tuple[int, ...] | None = None,
    steps: int | None = None,
    quick: bool = False,
    data_dir: str | None = None,
    evaluate: bool = True,
    metrics: str | list[str] | None = None,
    group_seeds: bool | None = None,
) -> tuple[Path, SweepSpec | None]:
    """The sweep directory and the spec a `minirtc sweep` command asks for (None: resume as saved).

    Without `dataset`, `out` must hold a saved sweep and nothing else may be given.  With
    it, the profile and `group_seeds` default to the saved sweep's (else "laptop" and
    False) and `out` to sweeps/<profile>-<dataset>[-quick].
    """
    saved_dir = out is not None and (Path(out) / SWEEP_FILE).exists()
    if dataset is None:
        if not saved_dir:
            raise SweepError("--dataset is needed to start a sweep (or --out DIR to resume the sweep in DIR)")
        if (
            any(v is not None for v in (models, betas, seeds, profile, steps, data_dir, metrics, group_seeds))
            or quick
            or not evaluate
        ):
            raise SweepError("to change or extend a saved sweep, give --dataset as well")
        return Path(out), None
    saved = read_spec(out) if saved_dir else None
    profile = profile or (saved.profile if saved else "laptop")
    if group_seeds is None:
        group_seeds = saved.group_seeds if saved else False
    overrides = {"metrics": metrics} if metrics is not None else None
    spec = make_spec(
        profile, dataset, models, betas, seeds, steps, quick, data_dir, evaluate, None, overrides, group_seeds
    )
    return Path(out or f"sweeps/{profile}-{dataset}{'-quick' if quick else ''}"), spec


def plan_profile(
    profile: str | None = None,
    models: tuple[str, ...] | None = None,
    betas: tuple[float, ...] | None = None,
    seeds: tuple[int, ...] | None = None,
    steps: int | None = None,
    quick: bool = False,
    data_dir: str | None = None,
    evaluate: bool = True,
    metrics: str | list[str] | None = None,
    group_seeds: bool | None = None,
) -> list[tuple[Path, SweepSpec]]:
    """A profile's whole grid, one sweep per dataset it lists: what --dry-run plans without --dataset."""
    profile = profile or "laptop"
    if profile not in PROFILES:
        raise SweepError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    plans = []
    for dataset in PROFILES[profile].datasets:
        options = (models, betas, seeds, steps, quick, data_dir, evaluate, metrics, group_seeds)
        out, spec = plan_sweep(None, dataset, profile, *options)
        plans.append((out, spec))
    return plans
