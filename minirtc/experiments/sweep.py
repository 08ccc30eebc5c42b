"""E3-E6 (SPEC 9): a grid of training runs, model x beta x seed, in one sweep directory.

    SWEEP_DIR/
      sweep.json                     the grid, the profile, the shared settings, provenance
      <model>_beta<b>_seed<s>/       one run directory (minirtc.training.records) per grid point
        metrics.json                 the metric suite (SPEC 6) on the trained model (E6)
        .lock                        held (flock) by the process working on the run

A run's state is read from its files, never from a separate ledger, so a sweep killed at
any moment resumes correctly: `finished` (summary.json says finished), `failed`
(summary.json says failed, with the error), `partial` (a checkpoint, no summary) or
`pending`.  A rerun skips finished runs, resumes partial ones from their checkpoint,
and leaves failed ones alone unless asked to retry them.

`--betas` sets each model's TC weight, whose config field differs (SPEC 2): `gamma`
for factor-vae, `beta` for rtc-vae and beta-tcvae (and beta-vae's KL weight).  Each
run's config.json records both the sweep's beta and the field it went into.

Executors: "local" runs the grid in this process (jobs=1) or in a pool of `jobs`
spawned processes; "ray" submits every task as a Ray task with one GPU where the
cluster has GPUs (pip install 'minirtc[ray]').

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
import dataclasses
import json
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from minirtc.objectives import MODELS
from minirtc.training import checkpoint, records
from minirtc.training.config import TrainConfig

SWEEP_FILE, METRICS_FILE, LOCK_FILE = "sweep.json", "metrics.json", ".lock"
SWEEP_FORMAT = 1
EXECUTORS = ("local", "ray")
STATES = ("finished", "failed", "partial", "pending")

# The TrainConfig field that each sweepable model's weight goes into (SPEC 2).
WEIGHT_FIELD = {"factor-vae": "gamma", "rtc-vae": "beta", "beta-tcvae": "beta", "beta-vae": "beta"}


class SweepError(ValueError):
    """A sweep's settings are invalid, or the sweep directory holds a different sweep."""


# -- profiles ------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """A named scale: the default grid, the settings every run shares, the metric sizes."""

    name: str
    description: str
    models: tuple[str, ...]
    betas: tuple[float, ...]
    seeds: tuple[int, ...]
    train: dict[str, Any]  # TrainConfig fields shared by every run
    per_model: dict[str, dict[str, Any]]  # TrainConfig fields for one model only
    metrics: dict[str, Any]  # evaluate_representation settings (metrics, num_train, num_eval)


PROFILES = {
    "laptop": Profile(
        name="laptop",
        description="reduced scale for 2 CPU cores: NumPy MLP (4096-256-256-20), discriminator 3 x 256, "
        "a 20,000-item subset, 1,500 steps at lr 1e-3, 3 seeds; metrics on 1,000/500 points, DCI left out "
        "(its gradient-boosted trees take minutes per run on dSprites' 40-class orientation)",
        models=("factor-vae", "rtc-vae"),
        betas=(2.0, 6.0, 10.0),
        seeds=(0, 1, 2),
        train=dict(
            backend="numpy",
            arch="mlp",
            latent_dim=10,
            hidden=(256, 256),
            disc_hidden=256,
            disc_layers=3,
            batch_size=64,
            steps=1500,
            lr=1e-3,
            disc_lr=2e-4,
            subset=20_000,
            log_every=50,
            eval_every=150,
            eval_size=2000,
            checkpoint_every=150,
        ),
        per_model={"rtc-vae": {"eta": 10.0}},
        metrics=dict(
            metrics=[
                "beta_vae",
                "factor_vae",
                "mig",
                "sap",
                "modularity",
                "unsupervised",
                "elbo_decomposition",
            ],
            num_train=1000,
            num_eval=500,
        ),
    ),
    "paper": Profile(
        name="paper",
        description="the paper's settings (Sec. 6, SPEC 8): torch conv VAE, discriminator 6 x 1000, "
        "full dataset, 300,000 steps, batch 64, lr 1e-4, eta 10, 10 seeds, betas 2..10",
        models=("factor-vae", "rtc-vae"),
        betas=(2.0, 4.0, 6.0, 8.0, 10.0),
        seeds=tuple(range(10)),
        train=dict(
            backend="torch",
            arch="conv",
            device="auto",
            latent_dim=10,
            disc_hidden=1000,
            disc_layers=6,
            batch_size=64,
            steps=300_000,
            lr=1e-4,
            subset=None,
            log_every=100,
            eval_every=3000,
            eval_size=5000,
            checkpoint_every=3000,
        ),
        per_model={"rtc-vae": {"eta": 10.0}},
        metrics=dict(metrics="all", num_train=10_000, num_eval=5000),
    ),
}


# -- the grid ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """One grid point: which model, with which TC weight, from which seed."""

    model: str
    beta: float
    seed: int

    @property
    def name(self) -> str:
        return run_name(self.model, self.beta, self.seed)


def run_name(model: str, beta: float, seed: int) -> str:
    """The run directory's name, e.g. `factor-vae_beta6_seed0` (beta printed with %g)."""
    return f"{model}_beta{beta:g}_seed{seed}"


@dataclass(frozen=True)
class SweepSpec:
    """Everything that defines a sweep; saved as sweep.json."""

    profile: str
    dataset: str
    models: tuple[str, ...]
    betas: tuple[float, ...]
    seeds: tuple[int, ...]
    train: dict[str, Any]  # TrainConfig fields shared by every run (dataset excluded)
    per_model: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None  # None: no metric evaluation
    quick: bool = False  # a smoke-test scale, not a result
    group_seeds: bool = False  # torch: one task per (model, beta) trains its seeds as one ensemble

    def runs(self) -> list[RunSpec]:
        """The grid in a fixed order: seed-major, so early results cover every model and beta."""
        return [RunSpec(m, b, s) for s in self.seeds for b in self.betas for m in self.models]

    def cells(self) -> list[list[RunSpec]]:
        """The runs grouped by (model, beta), seeds in increasing order, cells in grid order."""
        return [[RunSpec(m, b, s) for s in sorted(self.seeds)] for b in self.betas for m in self.models]

    def run(self, name: str) -> RunSpec:
        for spec in self.runs():
            if spec.name == name:
                return spec
        raise KeyError(f"no run named {name!r} in this sweep")

    def config(self, run: RunSpec) -> TrainConfig:
        """The run's full training config: shared settings, the model's own, its weight, its seed.

        Only the seed differs between the runs of one (model, beta) cell, so a cell's
        runs can train as one ensemble (the run's name follows from model, weight, seed).
        """
        weight_field = WEIGHT_FIELD[run.model]
        values = {
            **self.train,
            **self.per_model.get(run.model, {}),
            "dataset": self.dataset,
            "model": run.model,
            "seed": run.seed,
            weight_field: float(run.beta),
            "extra": {"sweep": {"beta": float(run.beta), "weight_field": weight_field}},
        }
        return TrainConfig.from_dict(values)

    def settings(self) -> dict[str, Any]:
        """The part that must not change when a sweep is resumed or extended (JSON-normalised).

        `group_seeds` is not part of it: grouped and separate runs agree to float tolerance.
        """
        fields = ("profile", "dataset", "train", "per_model", "metrics", "quick")
        return _json_normal({name: getattr(self, name) for name in fields})

    def to_dict(self) -> dict[str, Any]:
        return _json_normal(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SweepSpec:
        values = dict(values)
        for name in ("models", "betas", "seeds"):
            values[name] = tuple(values[name])
        values["betas"] = tuple(float(b) for b in values["betas"])
        return cls(**values)


def _json_normal(value: Any) -> Any:
    """`value` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value, default=list))


def parse_seeds(text: str) -> tuple[int, ...]:
    """ "0-9", "0,2,5" or "0-2,7" -> sorted distinct seeds; ValueError on anything else."""
    seeds: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        try:
            if "-" in part[1:]:
                lo, hi = (int(v) for v in part.split("-", 1))
                if lo > hi:
                    raise ValueError
                seeds.update(range(lo, hi + 1))
            else:
                seeds.add(int(part))
        except ValueError:
            raise ValueError(f"seeds must look like 0-9, 0,2,5 or 0-2,7; got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise ValueError(f"seeds must be non-negative integers, got {text!r}")
    return tuple(sorted(seeds))


def parse_betas(text: str) -> tuple[float, ...]:
    """ "2,4,6" -> (2.0, 4.0, 6.0), distinct and sorted; each must be a finite number >= 0."""
    try:
        betas = {float(v) for v in text.split(",")}
    except ValueError:
        raise ValueError(f"betas must be comma-separated numbers like 2,6,10; got {text!r}") from None
    if not betas or not all(0 <= b < float("inf") for b in betas):
        raise ValueError(f"betas must be finite numbers >= 0, got {text!r}")
    return tuple(sorted(betas))


def parse_models(text: str) -> tuple[str, ...]:
    """ "factor-vae,rtc-vae" -> the models, in the order given; only models with a TC/KL weight."""
    models = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    bad = [m for m in models if m not in WEIGHT_FIELD]
    if not models or bad:
        hint = f" ({', '.join(sorted(set(bad) & set(MODELS)))} has no weight to sweep)" if bad else ""
        raise ValueError(
            f"models must be a comma-separated list from {sorted(WEIGHT_FIELD)}; got {text!r}{hint}"
        )
    return models


def parse_metrics(text: str) -> str | list[str]:
    """ "all" or "mig,sap" -> what evaluate_representation takes; ValueError names the known metrics."""
    from minirtc.metrics import METRICS

    if text.strip() == "all":
        return "all"
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in METRICS]
    if not names or unknown:
        raise ValueError(
            f"metrics must be 'all' or a comma-separated list from {', '.join(METRICS)}; got {text!r}"
        )
    return names


def make_spec(
    profile: str,
    dataset: str,
    models: tuple[str, ...] | None = None,
    betas: tuple[float, ...] | None = None,
    seeds: tuple[int, ...] | None = None,
    steps: int | None = None,
    quick: bool = False,
    data_dir: str | None = None,
    evaluate: bool = True,
    train_overrides: dict[str, Any] | None = None,
    metrics_overrides: dict[str, Any] | None = None,
    group_seeds: bool = False,
) -> SweepSpec:
    """A new sweep: the profile's defaults, overridden by what is given.

    `quick` shrinks the profile for a smoke test of the whole pipeline (a tenth of the
    steps, at least 100; a 5,000-item subset; a tenth of the metric samples).
    `train_overrides` (TrainConfig fields) and `metrics_overrides` (evaluate_representation
    settings) are applied last, e.g. for tiny test sweeps.  `group_seeds`: train each
    (model, beta) cell's seeds as one torch ensemble (SweepError with the NumPy backend).
    """
    if profile not in PROFILES:
        raise SweepError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    base = PROFILES[profile]
    train = dict(base.train)
    metrics = dict(base.metrics) if evaluate else None
    if quick:
        train = _quick_train(train)
        if metrics is not None:
            metrics.update(
                num_train=max(100, metrics["num_train"] // 10), num_eval=max(100, metrics["num_eval"] // 10)
            )
    if steps is not None:
        if steps < 1:
            raise SweepError(f"steps must be >= 1, got {steps}")
        train["steps"] = steps
    if data_dir is not None:
        train["data_dir"] = str(data_dir)
    train.update(train_overrides or {})
    if metrics is not None:
        metrics.update(metrics_overrides or {})
    spec = SweepSpec(
        profile=profile,
        dataset=dataset,
        models=tuple(models or base.models),
        betas=tuple(float(b) for b in (betas or base.betas)),
        seeds=tuple(seeds if seeds is not None else base.seeds),
        train=_json_normal(train),  # as sweep.json will read back, so saved == requested compares
        per_model=_json_normal(base.per_model),
        metrics=_json_normal(metrics),
        quick=quick,
        group_seeds=group_seeds,
    )
    check_spec(spec)
    return spec


def _quick_train(train: dict[str, Any]) -> dict[str, Any]:
    """The quick variant of a profile's shared training settings."""
    steps = max(100, train["steps"] // 10)
    every = max(train["log_every"], (steps // 10) // train["log_every"] * train["log_every"])
    subset = 5000 if train.get("subset") is None else min(train["subset"], 5000)
    return {**train, "steps": steps, "eval_every": every, "checkpoint_every": every, "subset": subset}


def check_spec(spec: SweepSpec) -> None:
    """Raise SweepError unless every run of `spec` has a valid training config."""
    for name in ("models", "betas", "seeds"):
        if not getattr(spec, name):
            raise SweepError(f"the sweep needs at least one of {name}")
    bad = [m for m in spec.models if m not in WEIGHT_FIELD]
    if bad:
        raise SweepError(f"models {bad} have no TC weight to sweep; choose from {sorted(WEIGHT_FIELD)}")
    names = [run.name for run in spec.runs()]
    if len(set(names)) < len(names):
        raise SweepError(
            f"betas {list(spec.betas)} give clashing run names (printed with %g); use distinct values"
        )
    for model in spec.models:
        try:
            config = spec.config(RunSpec(model, spec.betas[0], spec.seeds[0])).checked()
        except ValueError as error:
            raise SweepError(f"invalid settings for {model}: {error}") from error
        if spec.group_seeds and config.backend != "torch":
            raise SweepError(
                f"--group-seeds trains a cell's seeds as one torch ensemble, but this sweep trains with "
                f"the {config.backend} backend (its seeds could only run one after another, as separate "
                "runs already do); leave --group-seeds out or use a torch profile such as paper"
            )


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


# -- the sweep directory -------------------------------------------------------------------


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
    except (KeyError, TypeError) as error:
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


# -- the state of each run, from its files ---------------------------------------------------


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


# -- one run, or one cell of seeds: train, then evaluate ---------------------------------------


@dataclass(frozen=True)
class RunTask:
    """What a worker needs to bring one run to completion (picklable, for processes and Ray)."""

    sweep_dir: str
    spec: dict[str, Any]  # SweepSpec.to_dict()
    run: str  # run name
    retry_failed: bool = False
    threads: int | None = None  # BLAS / torch threads in the worker; None leaves them alone


@dataclass(frozen=True)
class GroupTask:
    """What a worker needs to bring the runs of one (model, beta) cell to completion as one ensemble."""

    sweep_dir: str
    spec: dict[str, Any]  # SweepSpec.to_dict()
    runs: tuple[str, ...]  # run names of one cell that need work, seeds in increasing order
    retry_failed: bool = False
    threads: int | None = None  # torch threads in the worker; None leaves them alone


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
        trained = _needs_training(before, task.retry_failed)
        error = train_run(spec.config(run), run_dir) if trained else None
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
        to_train = [state for state in before if _needs_training(state, task.retry_failed)]
        clock = _clock()
        errors = train_group(spec, [s.run for s in to_train], [s.path for s in to_train]) if to_train else {}
        wall_s, cpu_s = _elapsed(clock)
        outcomes = []
        for state in before:
            trained = state.run.name in errors
            share = (wall_s / len(to_train), cpu_s / len(to_train)) if trained else (0.0, 0.0)
            clock = _clock(minus=share)
            outcome = _finish(spec, state, trained, errors.get(state.run.name), task.retry_failed, clock)
            outcomes.append({**outcome, "group": len(to_train) if trained else None})
        return outcomes


def _needs_training(state: RunState, retry_failed: bool) -> bool:
    return state.state in ("pending", "partial") or (state.state == "failed" and retry_failed)


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


def train_run(config: TrainConfig, run_dir: Path) -> str | None:
    """Train `config` in `run_dir`, resuming from its checkpoint; the error text if it failed.

    A NaN is recorded by the training loop itself; any other exception is recorded here
    in summary.json (status "failed", error, traceback), so the sweep can go on.
    """
    from minirtc.training import TrainingFailed, train
    from minirtc.training.lock import RunLocked

    try:
        train(config, run_dir, resume=True, progress=False)
    except TrainingFailed as error:
        return str(error)
    except RunLocked as error:  # another process trains it: not this run's failure, nothing recorded
        return str(error)
    except Exception as error:  # record every fault of one run; the sweep goes on
        message = f"{type(error).__name__}: {error}"
        _record_failure(run_dir, message)
        return message
    return None


def train_group(spec: SweepSpec, runs: list[RunSpec], run_dirs: list[Path]) -> dict[str, str | None]:
    """Train the runs of one (model, beta) cell as one ensemble, each resuming from its checkpoint.

    Returns {run name: error text or None}.  A member's NaN is recorded by the ensemble
    (the others go on); any other exception stops the group and is recorded in every
    member not yet finished, as `train_run` records it for one run.
    """
    from minirtc.training.ensemble import train_seeds

    cells = sorted({(run.model, run.beta) for run in runs})
    if len(cells) != 1:
        raise SweepError(f"a group trains the seeds of one (model, beta), got {cells}")
    seeds = tuple(run.seed for run in runs)
    try:  # the cell's configs differ only in the seed (SweepSpec.config), as train_seeds needs
        summaries = train_seeds(spec.config(runs[0]), seeds, run_dirs, resume=True, progress=False)
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
    return {run.name: s.get("error") if s["status"] == "failed" else None for run, s in zip(runs, summaries)}


def _record_failure(run_dir: Path, message: str) -> None:
    """summary.json of a run stopped by an exception: status failed, the error, the traceback."""
    records.atomic_write_json(
        run_dir / records.SUMMARY,
        {"status": "failed", "error": message, "traceback": traceback.format_exc()},
    )


def evaluate_run(run_dir: str | Path, settings: dict[str, Any]) -> dict[str, Any]:
    """Score a trained run with the metric suite (SPEC 6), writing metrics.json.

    `settings`: evaluate_representation's `metrics`, `num_train`, `num_eval`.  The
    metrics' seed is the run's seed.  A failure is recorded (status "failed") and
    the sweep goes on.
    """
    from minirtc.experiments import evaluation

    run_dir = Path(run_dir)
    try:
        record = evaluation.evaluate_run(
            run_dir,
            metrics=settings.get("metrics", "all"),
            num_train=settings.get("num_train", 10_000),
            num_eval=settings.get("num_eval", 5_000),
            progress=False,
        )
    except Exception as error:  # a metric that fails is recorded, not fatal to the sweep
        record = {
            "status": "failed",
            "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(),
        }
        records.atomic_write_json(run_dir / METRICS_FILE, {**record, "settings": settings})
    return record


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


# -- executors --------------------------------------------------------------------------


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
) -> SweepResult:
    """Bring every run of the sweep to `finished` (or `failed`) and evaluate it.

    spec None resumes the sweep saved in `sweep_dir`; otherwise see `open_sweep`.
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
    tasks = plan_tasks(sweep_dir, spec, before, retry_failed)
    total = sum(len(task_runs(task)) for task in tasks)
    if spec.group_seeds:
        echo(f"  {total} runs to work on in {len(tasks)} groups of seeds (one task per model and beta)")
    for state in before:
        if state.state == "failed" and not retry_failed:
            echo(f"  not retried (failed; --retry-failed to retry): {state.run.name}: {state.error}")
    done: list[dict[str, Any]] = []

    def on_done(outcome: dict[str, Any]) -> None:
        done.append(outcome)
        echo(f"[{len(done)}/{total}] {_format_outcome(outcome)}")

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


def plan_tasks(
    sweep_dir: str | Path, spec: SweepSpec, states: list[RunState], retry_failed: bool = False
) -> list[RunTask | GroupTask]:
    """The tasks that bring the runs needing work to completion: one per run, or one per
    (model, beta) cell with spec.group_seeds (only its runs needing work; finished runs stay out)."""
    needs = {state.run.name for state in states if _needs_work(state, spec, retry_failed)}
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


def _needs_work(state: RunState, spec: SweepSpec, retry_failed: bool) -> bool:
    if state.state in ("pending", "partial"):
        return True
    if state.state == "failed":
        return retry_failed
    wants_metrics = spec.metrics is not None
    return wants_metrics and (state.evaluated is None or (state.evaluated == "failed" and retry_failed))


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


def execute_local(
    tasks: list[RunTask | GroupTask], jobs: int, on_done: Callable[[dict[str, Any]], None]
) -> list[str]:
    """Run `tasks` here (jobs=1) or in `jobs` spawned processes with one BLAS/torch thread each.

    Returns the names of runs whose worker process died (the pool breaks; they resume on rerun).
    """
    if jobs == 1 or len(tasks) <= 1:
        for task in tasks:
            for outcome in execute_task(task):
                on_done(outcome)
        return []
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    interrupted = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(execute_task, dataclasses.replace(t, threads=1)): t for t in tasks}
        try:
            for future in as_completed(futures):
                try:
                    outcomes = future.result()
                except BrokenProcessPool:
                    interrupted.extend(task_runs(futures[future]))
                    continue
                for outcome in outcomes:
                    on_done(outcome)
        except BaseException:  # Ctrl-C or a bug: stop now; the runs resume from their checkpoints
            _stop_workers(pool)
            raise
    return interrupted


def _stop_workers(pool: Any) -> None:
    """Cancel the runs not started and terminate the workers (a worker that caught Ctrl-C would go on)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())  # private before 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


def execute_ray(
    tasks: list[RunTask | GroupTask], on_done: Callable[[dict[str, Any]], None], address: str | None = None
) -> list[str]:
    """Run `tasks` as Ray tasks (a group of seeds is one task), one GPU each where the cluster has GPUs.

    Connects to `address` (or $RAY_ADDRESS, or the session already initialised), else
    starts a local Ray.  The sweep directory must be on storage every node sees.
    """
    try:
        import ray
    except ImportError as error:
        raise SweepError("the ray executor needs Ray: pip install 'minirtc[ray]'") from error
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        remote = ray.remote(num_gpus=1 if gpus else 0, num_cpus=1, max_retries=2)(execute_task)
        pending = {remote.remote(dataclasses.replace(t, threads=1)): t for t in tasks}
        interrupted = []
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                task = pending.pop(ref)
                try:
                    outcomes = ray.get(ref)
                except ray.exceptions.RayError:
                    interrupted.extend(task_runs(task))
                    continue
                for outcome in outcomes:
                    on_done(outcome)
        return interrupted
    finally:
        if started:
            ray.shutdown()
