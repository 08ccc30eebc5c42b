"""Live logging of a training run to TensorBoard or MLflow (`minirtc train --log ...`).

`open_loggers(names, run_dir, run_name)` returns an `on_row` callback for
`minirtc.training.train`: every history row goes to each logger as scalars
("train/loss", "eval/tc_mean", ...).  The training loop also calls its
`on_evaluation(step, trainer, images)` at every evaluation row; the loggers then
get the reconstructions and a traversal grid of the evaluation items as images.

history.jsonl stays the source of truth: a logger that fails (full disk, server
gone) warns once, is switched off, and training goes on.  The loggers are optional
extras: `pip install "minirtc[tensorboard]"` or `pip install "minirtc[mlflow]"`.

    tensorboard   events in RUN_DIR/tensorboard/ (`tensorboard --logdir runs/` compares runs
                  side by side, each under its directory's name)
    mlflow        one MLflow run named after the run directory, in experiment "minirtc",
                  at $MLFLOW_TRACKING_URI (else MLflow's default store)
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from minirtc.training.config import ConfigError

LOGGERS = {"tensorboard": "tensorboard", "mlflow": "mlflow"}  # logger -> module it needs (= extra)
MLFLOW_EXPERIMENT = "minirtc"


def parse_log_option(values: tuple[str, ...] | list[str] | str | None) -> tuple[str, ...]:
    """`--log tensorboard --log mlflow` or `--log tensorboard,mlflow` -> ("tensorboard", "mlflow")."""
    if values is None:
        return ()
    items = [values] if isinstance(values, str) else list(values)
    names = [n.strip() for item in items for n in item.split(",") if n.strip()]
    unknown = sorted(set(names) - set(LOGGERS))
    if unknown:
        raise ConfigError(f"unknown logger {', '.join(unknown)}; choose from {', '.join(LOGGERS)}")
    return tuple(dict.fromkeys(names))


def check_installed(names: tuple[str, ...]) -> None:
    """ConfigError naming the extra to install for the first logger whose package is missing."""
    import importlib.util

    for name in names:
        if importlib.util.find_spec(LOGGERS[name]) is None:
            raise ConfigError(f'--log {name} needs the {name} package: pip install "minirtc[{name}]"')


class TensorBoardLogger:
    """Scalars and PNG images written as TensorBoard event files (no TensorFlow, no torch)."""

    name = "tensorboard"

    def __init__(self, log_dir: Path):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.writer = EventFileWriter(str(log_dir))

    def _add(self, step: int, values: list[Any]) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        self.writer.add_event(Event(wall_time=time.time(), step=step, summary=Summary(value=values)))

    def scalars(self, step: int, values: dict[str, float]) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        self._add(step, [Summary.Value(tag=k, simple_value=v) for k, v in values.items()])

    def images(self, step: int, images: dict[str, np.ndarray]) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        from minirtc.viz.gif import png_bytes

        values = [
            Summary.Value(
                tag=tag,
                image=Summary.Image(
                    height=image.shape[0],
                    width=image.shape[1],
                    colorspace=3,
                    encoded_image_string=png_bytes(image),
                ),
            )
            for tag, image in images.items()
        ]
        self._add(step, values)

    def close(self) -> None:
        self.writer.close()


class MlflowLogger:
    """One MLflow run: metrics per history row, images per evaluation (MlflowClient, no global run)."""

    name = "mlflow"

    def __init__(self, run_name: str, run_dir: Path):
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient()
        experiment = self.client.get_experiment_by_name(MLFLOW_EXPERIMENT)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else self.client.create_experiment(MLFLOW_EXPERIMENT)
        )
        run = self.client.create_run(experiment_id, run_name=run_name, tags={"minirtc.run_dir": str(run_dir)})
        self.run_id = run.info.run_id

    def scalars(self, step: int, values: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step) for k, v in values.items()])

    def images(self, step: int, images: dict[str, np.ndarray]) -> None:
        for tag, image in images.items():
            self.client.log_image(self.run_id, image, key=tag.replace("/", "_"), step=step)

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


def scalar_values(row: dict[str, Any]) -> dict[str, float]:
    """A history row as {"<kind>/<key>": float}: finite numbers only (no step, kind, None)."""
    kind = row.get("kind", "train")
    return {
        f"{kind}/{key}": float(value)
        for key, value in row.items()
        if key not in ("kind", "step")
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and np.isfinite(value)
    }


class RunLoggers:
    """The `on_row` callback of one run: sends rows and evaluation pictures to every live logger.

    The loggers are opened at the first row (nothing is created for a run that never
    starts).  A logger that fails to open or raises is reported once (RuntimeWarning)
    and dropped; training goes on.
    """

    def __init__(self, openers: dict[str, Callable[[], Any]]):
        self.openers = dict(openers)  # logger name -> function that opens it
        self.loggers: list[Any] | None = None  # None until the first row
        self.pictures = True  # False once drawing the evaluation pictures failed

    def _warn(self, name: str, what: str, error: Exception) -> None:
        warnings.warn(
            f"{name} logging {what} ({type(error).__name__}: {error}); "
            "training goes on and history.jsonl keeps every row",
            RuntimeWarning,
            stacklevel=3,
        )

    def _open(self) -> list[Any]:
        if self.loggers is None:
            self.loggers = []
            for name, opener in self.openers.items():
                try:
                    self.loggers.append(opener())
                except Exception as error:  # a logger that cannot start must not stop training
                    self._warn(name, "not started", error)
        return self.loggers

    def _each(self, method: str, *args: Any) -> None:
        loggers = self._open()
        for logger in list(loggers):
            try:
                getattr(logger, method)(*args)
            except Exception as error:  # a logger must never stop training
                loggers.remove(logger)
                self._warn(logger.name, "stopped", error)

    def __call__(self, row: dict[str, Any]) -> None:
        values = scalar_values(row)
        if values:
            self._each("scalars", int(row["step"]), values)

    def on_evaluation(self, step: int, trainer: Any, images: np.ndarray) -> None:
        """Reconstructions and a traversal grid of the evaluation items (uint8, 0/1 or 0..255)."""
        if not self._open() or not self.pictures:
            return
        from minirtc.viz.animations import evaluation_pictures

        pixel_max = 1 if images.max() <= 1 else 255  # binary datasets store 0/1, the others 0..255
        try:
            pictures = evaluation_pictures(trainer.encode_images, trainer.decode_latents, images, pixel_max)
        except Exception as error:  # drawing must not stop training either: warn, then log scalars only
            self.pictures = False
            self._warn("picture", "stopped", error)
            return
        self._each("images", step, {f"eval/{name}": picture for name, picture in pictures.items()})

    def close(self) -> None:
        if self.loggers:
            self._each("close")
        self.loggers = []


def open_loggers(names: tuple[str, ...], run_dir: str | Path, run_name: str | None = None) -> RunLoggers:
    """Loggers `names` for the run in `run_dir`, named `run_name` (default: the directory's name)."""
    check_installed(names)
    run_dir = Path(run_dir)
    run_name = run_name or run_dir.name
    openers = {
        "tensorboard": lambda: TensorBoardLogger(run_dir / "tensorboard"),
        "mlflow": lambda: MlflowLogger(run_name, run_dir),
    }
    return RunLoggers({name: openers[name] for name in names})


class SeedLoggers:
    """The `on_row(seed, row)` callback of `train_seeds`: one `RunLoggers` per member."""

    def __init__(self, members: dict[int, RunLoggers]):
        self.members = members

    def member(self, seed: int) -> RunLoggers:
        """The member's own callback (with its `on_evaluation`)."""
        return self.members[seed]

    def __call__(self, seed: int, row: dict[str, Any]) -> None:
        self.members[seed](row)

    def close(self) -> None:
        for loggers in self.members.values():
            loggers.close()
