"""Example 8: the lecture run: sprites that only move, and one latent for each direction.

    python examples/08_lecture_positions.py [--quick] [--seed N] [--out DIR]

Start it at the beginning of a lecture and show its figure at the end. It trains the
`lecture` profile (docs/training.md#profiles): RTC-VAE with two latents, a small NumPy
MLP, on the dSprites images in which only the position varies (one shape, one scale,
one orientation: 32 x 32 = 1,024 images, the sub-grid `--range shape=0:1 --range
scale=5:6 --range orientation=0:1`). Two factors generate the data; the total
correlation penalty (eq. (4) of the paper) pushes the two latents to be independent,
which for a uniform grid of positions means one latent for x and one for y.

The figure is a traversal: each row moves one latent from -2.5 to +2.5 prior standard
deviations while the other stays at a reference image's code; in a disentangled model
one row moves the sprite left to right and the other up and down. The numbers: the
mutual information of each latent with each factor, and the Mutual Information Gap
(docs/metrics.md#mig), the gap between the two latents that know most about a factor,
divided by the factor's entropy. This short run separates the axes (each position's
largest information is in a different latent), but its MIG stays far below 1: the
codes fold at the edges of the grid (benchmarks/results/cpu_profile_search.md).
`--quick` trains a few hundred steps to check that the example runs; the claim is only
checked on the full run.
"""

# %% Setup
import sys
import time
from dataclasses import replace

import numpy as np

from minirtc.experiments.lesson import Lesson, lesson_args, single_threaded_blas
from minirtc.experiments.show import ShowSettings, show_run
from minirtc.metrics import evaluate_representation
from minirtc.metrics.mig import mutual_info_matrix
from minirtc.metrics.sampling import varying_factors
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
factors = run.dataset.index_to_factors(np.arange(len(run.dataset)))[:, varying_factors(run.dataset)]  # (N, 2)
mi = mutual_info_matrix(factors, mu)  # (D, 2) nats, mu in 20 bins as MIG takes it
largest = [f"z{int(np.argmax(mi[:, k])) + 1}" for k in range(mi.shape[1])]  # per factor
print("Mutual information (nats), rows z1..zD, columns posX, posY:")
print(np.array2string(mi, precision=2))
print(f"MIG over posX and posY: {mig:.3f} (1 = each position in exactly one latent)")
print("KL per latent (nats):", " ".join(f"{v:.2f}" for v in kl), f"; {int(active.sum())} active")

# %% The traversal figure and the rest of `minirtc show`
written = show_run(run_dir, args.out / "08_lecture_show", ShowSettings(seed=args.seed), show_progress=False)
atomic_write_bytes(args.out / "08_lecture_positions.png", written["traversals"].read_bytes())
print(f"The traversal to show the class: {args.out / '08_lecture_positions.png'}")

# %% The lesson's checks
lesson.check("the run trained to the end", run.step == config.steps, f"step {run.step} of {config.steps}")
if not args.quick:
    lesson.check(
        "posX and posY are each carried most by a different latent",
        len(set(largest)) == len(largest),
        f"the latent with the most information about posX, posY: {', '.join(largest)}; MIG {mig:.3f}",
    )
lesson.numbers.update(
    mig=mig,
    mutual_information=mi.tolist(),
    largest=largest,
    kl_per_latent=kl.tolist(),
    active=int(active.sum()),
    minutes=minutes,
    steps=config.steps,
    figures=sorted(str(p) for p in written.values()),
)
sys.exit(lesson.finish(args.out))
