"""Training: the one training step, the trainers that apply it, the loop, the run directory.

step.py      train_step and draw_inputs: the algorithm of one step, written once for every backend
trainer.py   Trainer: one run's networks, optimiser states, random stream and data order
batched.py   BatchedTrainer: K seeds at once, the same step mapped over stacked members
config.py    TrainConfig (holding the core's ObjectiveConfig), saved as config.json; PROFILES
loop.py      train(config, out): logging, evaluation, checkpoints, resume
ensemble.py  train_seeds(config, seeds, outs): one run directory per seed
records.py   the run directory's files, written atomically
"""

from minirtc.training.config import ConfigError, TrainConfig
from minirtc.training.loop import RunDirectoryError, TrainingFailed, train

__all__ = ["ConfigError", "RunDirectoryError", "TrainConfig", "TrainingFailed", "train"]
