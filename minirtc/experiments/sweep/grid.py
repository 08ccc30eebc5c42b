"""The grid of a sweep: models x betas x seeds, and the training config of each point.

`--betas` sets each model's TC weight, whose config field differs
(docs/theory.md#objectives): `gamma` for factor-vae, `beta` for rtc-vae and beta-tcvae
(and beta-vae's KL weight).  Each run's config.json records both the sweep's beta and
the field it went into.  Seeds follow the grammar of `minirtc.training.seeds`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from minirtc.errors import ConfigError
from minirtc.objectives import MAIN_WEIGHT, MODELS
from minirtc.training.config import TrainConfig
from minirtc.training.profiles import PROFILES
from minirtc.training.seeds import as_seeds

# The TrainConfig field that each sweepable model's weight goes into (docs/theory.md#objectives).
WEIGHT_FIELD = MAIN_WEIGHT  # the weight a sweep varies for each model (the core's table)


class SweepError(ValueError):
    """A sweep's settings are invalid, or the sweep directory holds a different sweep."""


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
        """The spec sweep.json holds; ConfigError (a ValueError) if its seeds break the grammar."""
        values = dict(values)
        values["models"] = tuple(values["models"])
        values["betas"] = tuple(float(b) for b in values["betas"])
        values["seeds"] = as_seeds(values["seeds"])
        return cls(**values)


def _json_normal(value: Any) -> Any:
    """`value` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value, default=list))


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
    per_model = {model: dict(own) for model, own in base.sweep_model_settings().items()}
    metrics = dict(base.metrics) if evaluate else None
    if quick:
        per_model = {model: _quick_model(train, own) for model, own in per_model.items()}
        train = _quick_train(train)
        if metrics is not None:
            metrics.update(
                num_train=max(100, metrics["num_train"] // 10), num_eval=max(100, metrics["num_eval"] // 10)
            )
    if steps is not None:
        if steps < 1:
            raise SweepError(f"steps must be >= 1, got {steps}")
        train["steps"] = steps
        per_model = {
            model: {**own, "steps": steps} if "steps" in own else own for model, own in per_model.items()
        }
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
        seeds=tuple(sorted(seeds if seeds is not None else base.seeds)),  # check_spec refuses repeats
        train=_json_normal(train),  # as sweep.json will read back, so saved == requested compares
        per_model=_json_normal(per_model),
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


def _quick_model(shared: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """The quick variant of one model's own settings, where they set its length."""
    if "steps" not in own:
        return own
    quick = _quick_train({**shared, **own})
    return {**own, **{key: quick[key] for key in ("steps", "eval_every", "checkpoint_every")}}


def check_spec(spec: SweepSpec) -> None:
    """Raise SweepError unless every run of `spec` has a valid training config."""
    for name in ("models", "betas"):
        if not getattr(spec, name):
            raise SweepError(f"the sweep needs at least one of {name}")
    try:
        as_seeds(spec.seeds)
    except ConfigError as error:
        raise SweepError(str(error)) from None
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
