"""Example 8: the lecture run: sprites that only move, and one latent for each direction.

    python examples/08_lecture_positions.py [--quick] [--seed N] [--out DIR]

Start it at the beginning of a lecture and show its figure at the end. It trains the
`lecture` profile (docs/training.md#profiles): a small NumPy MLP on the dSprites
images in which only the position varies (one shape, one scale, one orientation:
32 x 32 = 1,024 images, the sub-grid `--range shape=0:1 --range scale=5:6
--range orientation=0:1`). Two factors generate the data; a disentangled model
carries each in one latent and switches the other latents off.

The lesson's claim is measured with the Mutual Information Gap (docs/metrics.md#mig):
for each factor, the gap between the two latents that know most about it, divided by
the factor's entropy. MIG near 1 means each factor lives in exactly one latent. The
figure is a traversal: each row moves one latent from -2.5 to +2.5 prior standard
deviations while the others stay at a reference image's code. In a disentangled model
one row moves the sprite left to right, one moves it up and down, and the rest do
nothing. `--quick` trains a few hundred steps to check that the example runs; the
claim is only checked on the full run.
"""

# %% Setup
import sys
import time
from dataclasses import replace

import numpy as np

from minirtc.experiments.lesson import Lesson, lesson_args, single_threaded_blas
from minirtc.experiments.show import ShowSettings, show_run
from minirtc.metrics import evaluate_representation
from minirtc.training import train
from minirtc.training.profiles import PROFILES
from minirtc.training.records import atomic_write_bytes
from minirtc.training.restore import load_run
from minirtc.viz.traversal import active_latents, kl_per_latent

args = lesson_args(__doc__.splitlines()[0])
single_threaded_blas()  # small matrices: one BLAS thread is faster than several fighting over the cores
lesson = Lesson("08_lecture_positions")
profile = PROFILES["lecture"]
# The profile's model and settings, as `minirtc train --profile lecture --seed N` would use them.
config = replace(profile.config(), seed=args.seed, steps=300 if args.quick else profile.train["steps"])
config.checked()
print(profile.description)
print(f"Training {config.model}: {config.steps} steps, batch {config.batch_size}, D = {config.latent_dim}.")

# %% Train (the run directory can be opened with `minirtc show` and resumed with `minirtc train --resume`)
run_dir = args.out / "08_lecture_run"
start = time.perf_counter()
train(config, run_dir, overwrite=True, progress=True)
minutes = (time.perf_counter() - start) / 60
print(f"Trained in {minutes:.1f} minutes.")

# %% Score: MIG over the two varying factors, and how much each latent is used
run = load_run(run_dir)
scores = evaluate_representation(run.dataset, run.encode, metrics=["mig"], seed=args.seed, progress=False)
mig = scores["mig"]["mig"]
images = run.dataset.images(np.arange(len(run.dataset)))  # (1024, 64, 64, 1)
mu, logvar = run.encode(images)  # (1024, D) each
kl = kl_per_latent(mu, logvar)  # (D,) nats
active = active_latents(mu)  # (D,) bool
print(f"MIG over posX and posY: {mig:.3f}")
print("KL per latent (nats):", " ".join(f"{v:.2f}" for v in kl), f"; {int(active.sum())} active")

# %% The traversal figure and the rest of `minirtc show`
written = show_run(run_dir, args.out / "08_lecture_show", ShowSettings(seed=args.seed), show_progress=False)
atomic_write_bytes(args.out / "08_lecture_positions.png", written["traversals"].read_bytes())
print(f"The traversal to show the class: {args.out / '08_lecture_positions.png'}")

# %% The lesson's checks
lesson.check("the run trained to the end", run.step == config.steps, f"step {run.step} of {config.steps}")
if not args.quick:
    lesson.check("each moving factor is carried by one latent (MIG >= 0.5)", mig >= 0.5, f"MIG {mig:.3f}")
lesson.numbers.update(
    {"mig": mig, "kl_per_latent": kl.tolist(), "active": int(active.sum()), "minutes": minutes,
     "steps": config.steps, "figures": sorted(str(p) for p in written.values())}
)  # fmt: skip
sys.exit(lesson.finish(args.out))
