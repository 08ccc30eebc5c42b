"""Training: the config, the loop shared by both backends, and the run directory.

config.py   TrainConfig, the typed settings saved as config.json
loop.py     train(config, out): logging, evaluation, checkpoints, resume
records.py  the run directory's files, written atomically
"""

from minirtc.training.config import ConfigError, TrainConfig
from minirtc.training.loop import RunDirectoryError, TrainingFailed, train

__all__ = ["ConfigError", "RunDirectoryError", "TrainConfig", "TrainingFailed", "train"]
