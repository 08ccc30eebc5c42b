"""Re-open a finished (or interrupted) run: its config, dataset and trained model.

Used by `minirtc evaluate`, the plots and the experiments.  The model is rebuilt
by the run's own backend from config.json and loaded from its newest checkpoint,
which is verified (checksums, shapes against the config) and never unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minirtc.training import checkpoint as checkpoints
from minirtc.training import records, rundir
from minirtc.training.config import ConfigError, TrainConfig
from minirtc.training.loop import load_dataset
from minirtc.training.trainer import make_trainer


@dataclass
class TrainedRun:
    """A run directory's config, dataset, trained model (a backend trainer) and step."""

    path: Path
    config: TrainConfig
    dataset: Any  # GroundTruthDataset
    trainer: Any
    step: int

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 images (B, H, W, C) -> (mu, logvar), each (B, D) float64."""
        return self.trainer.encode_images(images)

    def mean_representation(self, images: np.ndarray) -> np.ndarray:
        """The representation the metrics score: the posterior mean mu (B, D)."""
        return self.encode(images)[0]

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Codes z (B, D) -> the decoder's mean images (B, H, W, C) in [0, 1]."""
        return self.trainer.decode_latents(z)


def load_run(run_dir: str | Path, device: str | None = None) -> TrainedRun:
    """Rebuild the model of `run_dir` and load its latest checkpoint."""
    path = Path(run_dir)
    if not (path / records.CONFIG).exists():
        raise FileNotFoundError(f"{path} is not a minirtc run directory (no {records.CONFIG})")
    record = rundir.read_record(path)
    try:
        config = TrainConfig.from_dict(record["train"])
        if device is not None:
            config = TrainConfig.from_dict({**config.to_dict(), "device": device})
        config = config.checked()
    except ConfigError as error:
        raise ConfigError(f"{path / records.CONFIG}: {error}") from None
    checkpoint = checkpoints.load_latest(path, fallback=False)
    if checkpoint is None:
        raise FileNotFoundError(
            f"{path} has no checkpoint yet; train it first (minirtc train --out {path} --resume)"
        )
    dataset = load_dataset(config)
    # The trainer only needs a batch of images for shapes; the model comes from the checkpoint.
    sample = dataset.images(np.arange(min(len(dataset), config.batch_size)))
    trainer = make_trainer(config, sample, dataset.pixel_max)
    checkpoints.load_into(trainer, checkpoint, ignore=("order",))
    return TrainedRun(path, config, dataset, trainer, checkpoint["step"])
