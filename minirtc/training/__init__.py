"""Training: the one training step, the trainers that apply it, the loop, the run directory.

step.py        train_step and draw_inputs: the algorithm of one step, written once for every backend
trainer.py     Trainer: one run's networks, optimiser states, random stream and data order
batched.py     BatchedTrainer: K seeds at once, the same step mapped over stacked members
config.py      TrainConfig (holding the core's ObjectiveConfig), saved as config.json
profiles.py    PROFILES: named starting settings of train and sweep, one table
seeds.py       the seed grammar (0-4,7) of train, sweep and config files
loop.py        train(config, out): logging, evaluation, checkpoints, resume
ensemble.py    train_seeds(config, seeds, outs): one run directory per seed
records.py     the run directory's files, written atomically
checkpoint.py  checkpoints as safetensors + JSON, checksummed, the last two kept
rundir.py      what --resume and --overwrite may do with a run directory
lock.py        one writer per run directory (run.lock with pid and host)
signals.py     SIGINT/SIGTERM: a last checkpoint and how to resume
convert.py     checkpoints between backends; old pickle checkpoints converted once
restore.py     reopen a run's trained model (evaluate, plots, show)
loggers.py     live logging to TensorBoard and MLflow
"""

from minirtc.training.config import ConfigError, TrainConfig
from minirtc.training.loop import RunDirectoryError, TrainingFailed, train

__all__ = ["ConfigError", "RunDirectoryError", "TrainConfig", "TrainingFailed", "train"]
