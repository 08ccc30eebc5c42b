"""One training loop for both backends.

A `Trainer` (minirtc/training/trainer.py) takes the optimiser steps; this loop
owns everything around them: the run directory, logging, periodic evaluation
of TC_mean and TC_sample (docs/estimators.md#closed-form-gaussian-tc),
checkpoints, resuming, and stopping cleanly on a NaN.

A run killed at any point and resumed with `resume=True` continues from its
last checkpoint and writes the same history as an uninterrupted run with the
same seed (bit-identical on CPU for the same backend), apart from the
wall-clock fields `images_per_s` and `wall_s`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

import minirtc
from minirtc import data
from minirtc.errors import ConfigError, NonFiniteLoss
from minirtc.training import checkpoint as checkpoints
from minirtc.training import lock, records, rundir, signals
from minirtc.training.config import TrainConfig
from minirtc.training.rundir import RESUMABLE_CHANGES, RunDirectoryError  # noqa: F401 (re-exported)
from minirtc.training.threads import training_threads
from minirtc.training.trainer import make_trainer

TIMING_KEYS = ("images_per_s", "wall_s")  # the only history fields that differ between reruns


class TrainingFailed(RuntimeError):
    """Training stopped on a non-finite loss; the last good checkpoint is kept."""


@dataclass
class EvalSet:
    """A fixed evaluation subset and its fixed noise, the same at every evaluation."""

    images: np.ndarray  # (E, H, W, C) uint8
    eps: np.ndarray  # (E, D) standard normal, for the sampled representation


def make_eval_set(images: np.ndarray, config: TrainConfig) -> EvalSet:
    """min(eval_size, N) training items and their noise, both drawn from the seed."""
    rng = np.random.default_rng([config.seed, 7])
    E = min(config.eval_size, len(images))
    index = np.sort(rng.choice(len(images), size=E, replace=False))
    return EvalSet(images[index], rng.standard_normal((E, config.latent_dim)))


def evaluate(trainer: Any, eval_set: EvalSet) -> dict[str, float]:
    """TC_mean, TC_sample (docs/estimators.md, closed-form Gaussian TC) and active units."""
    mu, logvar = trainer.encode_images(eval_set.images)  # (E, D) each
    z = mu + np.exp(0.5 * logvar) * eval_set.eps  # the sampled representation
    return {
        "tc_mean": minirtc.gaussian_tc_of_samples(mu),
        "tc_sample": minirtc.gaussian_tc_of_samples(z),
        "active_units": int(np.sum(np.var(mu, axis=0) > 0.01)),
        "mean_sigma2": float(np.mean(np.exp(logvar))),
    }


def load_training_data(config: TrainConfig):
    """The dataset object and its training images as one uint8 array (N, H, W, C)."""
    dataset = load_dataset(config)
    if config.batch_size > len(dataset):
        raise ConfigError(
            f"batch_size ({config.batch_size}) is larger than the dataset ({len(dataset)} items)"
        )
    return dataset, dataset.images(np.arange(len(dataset)))


def load_dataset(config: TrainConfig):
    """The run's dataset: its sub-grid `factor_ranges` (all of it when None), then at most `subset`
    items of that (all when subset is None or 0)."""
    dataset = data.load(config.dataset, data_dir=config.data_dir)
    if config.factor_ranges:
        try:
            dataset = data.FactorRanges(dataset, config.factor_ranges)
        except ValueError as error:  # a factor the dataset does not have, or a range beyond its classes
            raise ConfigError(f"factor_ranges: {error}") from None
    if config.subset and config.subset < len(dataset):
        dataset = data.Subset(dataset, config.subset, config.seed)
    return dataset


def prepare_run_dir(out: Path, config: TrainConfig, resume: bool, overwrite: bool) -> dict[str, Any] | None:
    """Check the directory against resume/overwrite; return the checkpoint to resume from."""
    return rundir.prepare(out, config, resume, overwrite)


def train(
    config: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    compile: bool = False,
) -> dict[str, Any]:
    """Train `config` into run directory `out`; returns the summary dict.

    `compile`: torch only, torch.compile the networks (eager, with a warning, where unavailable).
    """
    config = config.checked()
    if compile and config.backend != "torch":
        raise ConfigError("--compile needs --backend torch")
    out = Path(out)
    with lock.run_lock(out, note=checkpoints.note):
        checkpoint = prepare_run_dir(out, config, resume, overwrite)
        dataset, images = load_training_data(config)
        trainer = make_trainer(config, images, dataset.pixel_max)
        if compile:
            trainer.compile()
        eval_set = make_eval_set(images, config)

        start = begin_run(out, config, dataset, trainer, checkpoint)
        with training_threads(config.backend):  # one BLAS thread for the NumPy backend (threads.py)
            summary = end_run(
                out, _run_steps(config, out, trainer, eval_set, start, progress, on_row), dataset
            )
    if summary["status"] == "failed":
        raise TrainingFailed(summary["error"])
    return summary


def begin_run(out: Path, config: TrainConfig, dataset: Any, trainer: Any, checkpoint: dict | None) -> int:
    """Load the checkpoint into `trainer` (or start the records afresh); the step to start from."""
    if checkpoint is None:
        (out / records.HISTORY).unlink(missing_ok=True)
        records.atomic_write_json(out / records.CONFIG, run_record(config, dataset))
        return 0
    start = checkpoint["step"]
    if start > config.steps:
        raise RunDirectoryError(f"{out} is already at step {start}, past --steps {config.steps}")
    checkpoints.load_into(trainer, checkpoint)  # checks shapes against the config first
    records.truncate_history(out, start, checkpoints.note)
    (out / records.SUMMARY).unlink(missing_ok=True)  # unfinished again until this resume ends
    record_resume(out, config, start)
    return start


def end_run(out: Path, summary: dict[str, Any], dataset: Any) -> dict[str, Any]:
    """Write summary.json (with the dataset used) and return the summary."""
    summary["dataset"] = dataset.describe()
    records.atomic_write_json(out / records.SUMMARY, summary)
    return summary


def run_record(config: TrainConfig, dataset: Any) -> dict[str, Any]:
    """What config.json holds: settings, resolved objective, data used, provenance."""
    objective = config.objective.resolved()
    return {
        "train": config.to_dict(),
        "objective": {k: v for k, v in vars(objective).items()},
        "term_weights": minirtc.term_weights(objective),
        "dataset": dataset.describe(),
        **records.provenance(),
    }


def record_resume(out: Path, config: TrainConfig, step: int) -> None:
    """Note a resume in config.json (steps may have been extended), atomically."""
    record = json.loads((out / records.CONFIG).read_text())
    record["train"] = config.to_dict()
    record.setdefault("resumes", []).append({"step": step, **records.provenance()})
    records.atomic_write_json(out / records.CONFIG, record)


def _last_rows(out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The last train and eval rows already in the history (for a run resumed at its end)."""
    rows = records.read_history(out)
    last = {kind: next((r for r in reversed(rows) if r["kind"] == kind), {}) for kind in ("train", "eval")}
    return last["train"], last["eval"]


def _run_steps(config, out, trainer, eval_set, start, progress, on_row) -> dict[str, Any]:
    """The step loop: log rows, evaluation rows, checkpoints; stops on a NaN."""
    recorder = RunRecorder(config, out, trainer, eval_set, start, progress, on_row)
    try:
        with signals.stop_on_signals() as stop:
            for step in range(start + 1, config.steps + 1):
                trainer.step()
                recorder.after_step(step)
                if stop.requested and step % config.log_every == 0:  # term averages just written
                    records.save_checkpoint(out, step, trainer.state())
                    raise signals.Interrupted(signals.resume_line(stop.requested, out, step))
    except NonFiniteLoss as error:
        return recorder.failed(error)
    finally:
        recorder.close()
    return recorder.finished()


class RunRecorder:
    """Everything the loop does after a step of one run: history rows, evaluations, checkpoints.

    `after_step(step)` follows every optimiser step.  The many-seeds trainer drives
    one recorder per member, so each member's records are those of a single run.
    """

    def __init__(self, config, out, trainer, eval_set, start, progress, on_row):
        from minirtc.progress import progress as progress_bar

        self.config, self.out, self.trainer, self.eval_set, self.on_row = (
            config,
            out,
            trainer,
            eval_set,
            on_row,
        )
        self.bar = progress_bar(config.steps, f"{config.model}", initial=start, enabled=progress, unit="step")
        self.last_train, self.last_eval = _last_rows(out)
        discriminator = trainer.objective.tc_estimator == "discriminator"
        self.images_per_step = config.batch_size * (2 if discriminator else 1)
        self.t_run = self.t_log = time.perf_counter()
        self.step_log = start

    def after_step(self, step: int) -> None:
        """Log, evaluate and checkpoint when `step` is due; raises NonFiniteLoss."""
        config, out = self.config, self.out
        if not config.logs_at(step):
            return
        terms = self.trainer.pop_metrics()  # raises NonFiniteLoss
        now = time.perf_counter()
        images_per_s = self.images_per_step * (step - self.step_log) / max(now - self.t_log, 1e-9)
        self.last_train = {"kind": "train", "step": step, **terms, "images_per_s": images_per_s}
        self.t_log, self.step_log = now, step
        _emit(out, self.last_train, self.on_row)
        if step % config.eval_every == 0 or step == config.steps:
            self.last_eval = {"kind": "eval", "step": step, **evaluate(self.trainer, self.eval_set)}
            _emit(out, self.last_eval, self.on_row)
            on_evaluation = getattr(self.on_row, "on_evaluation", None)  # live loggers' pictures
            if on_evaluation is not None:
                on_evaluation(step, self.trainer, self.eval_set.images)
        if step % config.checkpoint_every == 0 or step == config.steps:
            records.save_checkpoint(out, step, self.trainer.state())
        self.bar.update(step - self.bar.n)
        self.bar.set_postfix(loss=f"{terms['loss']:.2f}", tc=f"{terms['tc']:.3f}", refresh=False)

    def failed(self, error: NonFiniteLoss) -> dict[str, Any]:
        """The summary of a run stopped by a non-finite term (its last checkpoint is kept)."""
        checkpoint = records.load_checkpoint(self.out)
        kept = (
            "no checkpoint yet" if checkpoint is None else f"last good checkpoint: step {checkpoint['step']}"
        )
        return {
            "status": "failed",
            "error": f"{error}; stopped, {kept} in {self.out}",
            "failed_step": error.step,
            "failed_term": error.term,
            "steps": self.config.steps,
        }

    def finished(self) -> dict[str, Any]:
        """The summary of a run that reached its last step."""
        last_train, last_eval = self.last_train, self.last_eval
        return {
            "status": "finished",
            "steps": self.config.steps,
            "wall_s": time.perf_counter() - self.t_run,
            "final_train": last_train,
            "final_eval": last_eval,
            "elbo": last_train.get("elbo"),
            "tc_mean": last_eval.get("tc_mean"),
            "tc_sample": last_eval.get("tc_sample"),
        }

    def close(self) -> None:
        self.bar.close()


def _emit(out: Path, row: dict[str, Any], on_row) -> None:
    records.append_history(out, row)
    if on_row is not None:
        on_row(row)
