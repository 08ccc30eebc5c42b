"""Training: the config, the loop shared by both backends, and the run directory.

config.py   TrainConfig, the typed settings saved as config.json
loop.py     train(config, out): logging, evaluation, checkpoints, resume
records.py  the run directory's files, written atomically
checkpoint.py  checkpoints as safetensors + JSON, checksummed, the last two kept
rundir.py   what --resume and --overwrite may do with a run directory
lock.py     one writer per run directory (run.lock with pid and host)
signals.py  SIGINT/SIGTERM: a last checkpoint and how to resume
convert.py  checkpoints between backends; old pickle checkpoints converted once
restore.py  reopen a run's trained model (evaluate, plots)
"""

from minirtc.training.config import ConfigError, TrainConfig
from minirtc.training.loop import RunDirectoryError, TrainingFailed, train

__all__ = ["ConfigError", "RunDirectoryError", "TrainConfig", "TrainingFailed", "train"]
