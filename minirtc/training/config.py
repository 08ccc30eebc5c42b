"""The training configuration: one typed dataclass, saved as `config.json` in every run.

Every field has a default, a one-line meaning and a check.  The objective's
settings are the core's own `ObjectiveConfig` (`config.objective`), held whole,
so every field of it (the likelihood and the estimator's chunk size included)
is settable from a config file and the CLI.  For convenience the objective's
fields may also be given flat: `TrainConfig(model="factor-vae", gamma=6)`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minirtc.backends import BACKENDS
from minirtc.errors import ConfigError
from minirtc.objectives import MODELS, TC_ESTIMATORS, ObjectiveConfig

__all__ = ["BACKENDS", "ConfigError", "TrainConfig"]

ARCHS = ("mlp", "conv")
DEVICES = ("cpu", "cuda", "auto")
DTYPES = ("float32", "float64")
OBJECTIVE_FIELDS = tuple(f.name for f in dataclasses.fields(ObjectiveConfig))


@dataclass(frozen=True, init=False)
class TrainConfig:
    """Everything that determines a training run (and nothing that does not)."""

    # -- the objective (docs/theory.md#objectives): model, weights, estimator, likelihood --
    objective: ObjectiveConfig = ObjectiveConfig()
    # -- data -----------------------------------------------------------------
    dataset: str = "dsprites-procedural"  # a name from minirtc.data.DATASETS
    subset: int | None = 20_000  # train on at most this many items (drawn with `seed`); None or 0 = all
    data_dir: str | None = None  # where real files live (else $MINIRTC_DATA, ~/.cache/minirtc)
    # train (and score) on a sub-grid, factor -> [lo, hi) classes: {"shape": (0, 1)} keeps shape 0
    factor_ranges: dict[str, tuple[int, int]] | None = None  # None = the whole grid (docs/data.md)
    # -- model and backend ----------------------------------------------------
    backend: str = "numpy"  # numpy (autograd, classroom) | torch (scale)
    device: str = "auto"  # torch only: cpu | cuda | auto
    arch: str = "mlp"  # mlp | conv (conv: torch only, docs/training.md)
    latent_dim: int = 10  # D
    hidden: tuple[int, ...] = (128,)  # MLP hidden widths (encoder; decoder mirrors)
    disc_hidden: int = 128  # discriminator width (Kim & Mnih and the paper profile: 1000)
    disc_layers: int = 2  # discriminator hidden layers (Kim & Mnih and the paper profile: 6)
    dtype: str = "float32"  # float32 | float64
    bf16: bool = False  # torch on CUDA: bf16 autocast for the networks
    # -- optimisation -------------------------------------------------------------
    steps: int = 2000  # optimiser steps
    batch_size: int = 64  # M
    lr: float = 1e-3  # VAE Adam learning rate (docs/training.md and the paper profile: 1e-4)
    adam_betas: tuple[float, float] = (0.9, 0.999)  # VAE Adam betas
    disc_lr: float = 1e-4  # discriminator Adam learning rate (Kim & Mnih)
    disc_betas: tuple[float, float] = (0.5, 0.9)  # discriminator Adam betas (Kim & Mnih)
    seed: int = 0  # every random choice derives from this
    # -- records ------------------------------------------------------------
    log_every: int = 50  # steps per history row (terms averaged over them)
    eval_every: int = 500  # steps per evaluation row (TC_mean, TC_sample); multiple of log_every
    eval_size: int = (
        5000  # fixed evaluation subset (docs/estimators.md#closed-form-gaussian-tc: at least 5,000 items)
    )
    checkpoint_every: int = 500  # steps per checkpoint; multiple of log_every
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes, recorded as given

    def __init__(self, objective: ObjectiveConfig | None = None, **values: Any):
        """Fields by name; the objective's own fields (model, beta, ...) may be given flat."""
        flat = {name: values.pop(name) for name in OBJECTIVE_FIELDS if name in values}
        objective = dataclasses.replace(objective or ObjectiveConfig(), **flat)
        object.__setattr__(self, "objective", objective)
        for f in dataclasses.fields(self)[1:]:
            if f.name in values:
                value = values.pop(f.name)
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                value = f.default
            object.__setattr__(self, f.name, value)
        if values:
            raise TypeError(f"unknown config keys {sorted(values)}")

    @property
    def model(self) -> str:
        """The objective's model name (a shorthand for `objective.model`)."""
        return self.objective.model

    def logs_at(self, step: int) -> bool:
        """Whether a history row is written after `step` steps (every log_every, and the last)."""
        return step % self.log_every == 0 or step == self.steps

    def checked(self) -> TrainConfig:
        """Self, after every check; raises ConfigError with one clear line."""
        if not isinstance(self.objective, ObjectiveConfig):
            raise ConfigError("objective must be an ObjectiveConfig")
        # -- types, finite values and sane sizes, before any check compares them ------------
        _check_types(self)
        for name in _NUMBER_FIELDS:
            value = _get(self, name)
            if value is not None and not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number, got {value}")
        for name in ("beta", "gamma", "alpha", "eta", "lambda_od", "lambda_d"):
            value = _get(self, name)
            if value is not None and not 0 <= value <= MAX_WEIGHT:
                raise ConfigError(f"{name} must be between 0 and {MAX_WEIGHT:g}, got {value}")
        if not (0 < self.lr <= MAX_LR and 0 < self.disc_lr <= MAX_LR):
            raise ConfigError(f"lr and disc_lr must be in (0, {MAX_LR:g}], got {self.lr}, {self.disc_lr}")
        for name in ("adam_betas", "disc_betas"):
            if len(getattr(self, name)) != 2 or not all(0 <= b < 1 for b in getattr(self, name)):
                raise ConfigError(f"{name} must be two numbers in [0, 1), got {getattr(self, name)}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed must be an integer from 0 to {MAX_SEED}, got {self.seed}")
        if self.subset is not None and self.subset < 0:
            raise ConfigError(f"subset must be >= 0 (0 = all items), got {self.subset}")
        for name, limit in SIZE_LIMITS.items():
            values = getattr(self, name)
            for value in values if isinstance(values, tuple) else (values,):
                if value is not None and value > limit:
                    raise ConfigError(
                        f"{name} {value} is absurdly large (at most {limit:,}); choose a smaller one"
                    )
        _one_of("model", self.model, MODELS)
        if self.objective.tc_estimator is not None:
            _one_of("tc_estimator", self.objective.tc_estimator, TC_ESTIMATORS)
        _one_of("backend", self.backend, tuple(BACKENDS))
        _one_of("arch", self.arch, ARCHS)
        _one_of("device", self.device, DEVICES)
        _one_of("dtype", self.dtype, DTYPES)
        try:
            self.objective.resolved()
        except ValueError as error:
            raise ConfigError(str(error)) from error
        if self.arch == "conv" and self.backend != "torch":
            raise ConfigError("arch 'conv' needs --backend torch (the NumPy backend has MLPs only)")
        if self.backend == "numpy" and (self.device == "cuda" or self.bf16):
            raise ConfigError("--device cuda and --bf16 need --backend torch")
        for name in ("latent_dim", "steps", "batch_size", "log_every", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ConfigError(
                f"batch_size must be >= 2 (the TC estimators need pairs), got {self.batch_size}"
            )
        if self.subset and self.subset < self.batch_size:
            raise ConfigError(f"subset ({self.subset}) must be at least batch_size ({self.batch_size})")
        if self.eval_size < 2:
            raise ConfigError(f"eval_size must be >= 2, got {self.eval_size}")
        for name in ("eval_every", "checkpoint_every"):
            if getattr(self, name) % self.log_every:
                raise ConfigError(
                    f"{name} ({getattr(self, name)}) must be a multiple of log_every ({self.log_every})"
                )
        if not (self.lr > 0 and self.disc_lr > 0):
            raise ConfigError(f"lr and disc_lr must be > 0, got {self.lr}, {self.disc_lr}")
        if any(h < 1 for h in self.hidden) or self.disc_hidden < 1 or self.disc_layers < 1:
            raise ConfigError("hidden widths, disc_hidden and disc_layers must be >= 1")
        return self

    # -- JSON round trip ----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def flat(self) -> dict[str, Any]:
        """Every setting under one name each (the objective's fields beside the others)."""
        values = self.to_dict()
        return {**values.pop("objective"), **values}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """From `to_dict()`'s form; a flat dict (the objective's fields at the top, as config.json
        files of earlier versions hold them) is read too."""
        if not isinstance(values, dict):
            raise ConfigError(f"a config must be a JSON object of settings, got {type(values).__name__}")
        values = dict(values)
        objective = values.pop("objective", None) or {}
        if not isinstance(objective, dict):
            raise ConfigError(f"the config's objective must be a mapping of its settings, got {objective!r}")
        known = {f.name for f in dataclasses.fields(cls)} | set(OBJECTIVE_FIELDS)
        unknown = sorted(set(values) - known) + sorted(set(objective) - set(OBJECTIVE_FIELDS))
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; known keys: {sorted(known)}")
        for name in ("hidden", "adam_betas", "disc_betas"):
            if isinstance(values.get(name), (list, tuple)):
                values[name] = tuple(values[name])
        if isinstance(values.get("factor_ranges"), dict):
            values["factor_ranges"] = {
                k: tuple(v) if isinstance(v, list) else v for k, v in values["factor_ranges"].items()
            }
        return cls(ObjectiveConfig(**objective), **values)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Read a JSON config (a run's config.json works: its "train" part is used)."""
        try:
            values = json.loads(Path(path).read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ConfigError(f"cannot read config file {path}: {error}") from None
        if not isinstance(values, dict):
            raise ConfigError(
                f"config file {path} must hold a JSON object of settings, got {type(values).__name__}"
            )
        return cls.from_dict(values.get("train", values))


def config_differences(a: TrainConfig, b: TrainConfig, ignore: tuple[str, ...] = ()) -> list[str]:
    """Names of the settings whose values differ (for refusing a changed resume)."""
    da, db = a.flat(), b.flat()
    return sorted(k for k in da if k not in ignore and da[k] != db[k])


# Upper bounds that catch typos (an extra zero or three) before they allocate or diverge.
MAX_WEIGHT, MAX_LR, MAX_SEED = 1e6, 10.0, 2**32 - 1
SIZE_LIMITS = {
    "latent_dim": 4096,
    "hidden": 65_536,
    "disc_hidden": 65_536,
    "disc_layers": 64,
    "batch_size": 1_000_000,
    "steps": 10**9,
    "subset": 10**9,
    "eval_size": 10**7,
    "log_every": 10**9,
    "eval_every": 10**9,
    "checkpoint_every": 10**9,
}
_NUMBER_FIELDS = (
    "beta",
    "gamma",
    "alpha",
    "eta",
    "lambda_od",
    "lambda_d",
    "capacity_min",
    "capacity_max",
    "lr",
    "disc_lr",
)
_INT_FIELDS = tuple(SIZE_LIMITS) + ("seed",)


def _get(config: TrainConfig, name: str) -> Any:
    """A setting by name, the objective's fields (beta, tc_estimator, ...) included."""
    return getattr(config.objective if name in OBJECTIVE_FIELDS else config, name)


def _check_types(config: TrainConfig) -> None:
    """ConfigError naming the field whose value has the wrong type (a config file's "64" for 64)."""

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_number(v: Any) -> bool:
        return is_int(v) or isinstance(v, float)

    def wrong(name: str, expected: str) -> ConfigError:
        value = _get(config, name)
        return ConfigError(f"{name} must be {expected}, got {value!r} ({type(value).__name__})")

    for name in _INT_FIELDS:
        value = _get(config, name)
        if name == "hidden":
            if not (isinstance(value, tuple) and value and all(is_int(v) for v in value)):
                raise wrong(name, "a list of integers like [128, 128]")
        elif not (is_int(value) or (value is None and name == "subset")):
            raise wrong(name, "an integer")
    for name in _NUMBER_FIELDS:
        value = _get(config, name)
        if not (is_number(value) or (value is None and name not in ("lr", "disc_lr"))):
            raise wrong(name, "a number")
    for name in ("adam_betas", "disc_betas"):
        if not all(is_number(v) for v in _get(config, name)):
            raise wrong(name, "two numbers like [0.9, 0.999]")
    for name in ("model", "dataset", "backend", "device", "arch", "dtype"):
        if not isinstance(_get(config, name), str):
            raise wrong(name, "a string")
    for name in ("tc_estimator", "data_dir"):
        if not isinstance(_get(config, name), (str, type(None))):
            raise wrong(name, "a string or null")
    if not isinstance(config.bf16, bool):
        raise wrong("bf16", "true or false")
    if not isinstance(config.extra, dict):
        raise wrong("extra", "a JSON object")
    _check_factor_ranges(config.factor_ranges)


def _check_factor_ranges(ranges: Any) -> None:
    """ConfigError unless `ranges` is None or {factor name: (lo, hi)} with 0 <= lo < hi."""
    if ranges is None:
        return
    example = '{"shape": [0, 1], "scale": [0, 3]}'
    if not isinstance(ranges, dict) or not ranges:
        raise ConfigError(f"factor_ranges must be a non-empty JSON object like {example}, got {ranges!r}")
    for name, bounds in ranges.items():
        pair = isinstance(bounds, tuple) and len(bounds) == 2
        if not (pair and all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)):
            raise ConfigError(f"factor_ranges[{name!r}] must be two integers [lo, hi], got {bounds!r}")
        if not 0 <= bounds[0] < bounds[1]:
            raise ConfigError(f"factor_ranges[{name!r}] must satisfy 0 <= lo < hi, got {list(bounds)}")


def _one_of(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
