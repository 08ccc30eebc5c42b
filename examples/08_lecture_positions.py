"""Example 8: the lecture run: sprites that only move, and one latent for each direction.

    python examples/08_lecture_positions.py [--quick] [--seed N] [--out DIR]

Start it at the beginning of a lecture and show its figure at the end. It trains the
`lecture` profile (docs/training.md#profiles): beta-TCVAE with two latents, a small
NumPy MLP, on the dSprites images in which only the position varies (one shape, one
scale, one orientation, and the central 16 x 16 positions: 256 images, the sub-grid
`--range shape=0:1 --range scale=5:6 --range orientation=0:1 --range posX=8:24
--range posY=8:24`). Two factors generate the data; the heavily weighted total
correlation (eq. (4) of the paper) pushes the two latents to be independent, which
for a square grid of positions means one latent for x and one for y.

Not every seed gets there: some fold the grid and keep a tear in it. So the lesson
trains four seeds, two at a time (one `minirtc train` process on each core), and
shows the one with the lowest training loss, a choice made without the labels (it
is how a user without ground truth would choose). The labels are then used only to
score every seed, so the class sees how far the seeds differ, the point of
Locatello et al. (2019) about seeds and disentanglement.

The figure is a traversal: each row moves one latent from -2.5 to +2.5 prior standard
deviations while the other stays at a reference image's code; in a disentangled model
one row moves the sprite left to right and the other up and down. The numbers: the
mutual information of each latent with each factor, and the Mutual Information Gap
(docs/metrics.md#mig), the gap between the two latents that know most about a factor,
divided by the factor's entropy. `--quick` trains two seeds for a hundred steps to
check that the example runs; the claim is only checked on the full run.
"""

# %% Setup
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from minirtc.experiments.lesson import Lesson, lesson_args, single_threaded_blas
from minirtc.experiments.show import ShowSettings, show_run
from minirtc.metrics import evaluate_representation
from minirtc.metrics.mig import mutual_info_matrix
from minirtc.metrics.sampling import varying_factors
from minirtc.training.profiles import PROFILES
from minirtc.training.records import atomic_write_bytes, final_loss
from minirtc.training.restore import load_run
from minirtc.viz.traversal import active_latents, kl_per_latent

args = lesson_args(__doc__.splitlines()[0])
single_threaded_blas()  # small matrices: one BLAS thread is faster than several fighting over the cores
lesson = Lesson("08_lecture_positions")
profile = PROFILES["lecture"]
CORES = 2  # runs trained side by side
seeds = [args.seed + k for k in range(2 if args.quick else 4)]
steps = 100 if args.quick else profile.train["steps"]
print(profile.description)
print(f"Training seeds {seeds[0]}-{seeds[-1]}, {CORES} at a time, {steps} steps each.")


# %% Train the seeds, two at a time: one `minirtc train` process on each of a laptop's two cores
def run_dir_of(seed: int) -> Path:
    """The run directory of one seed (it opens with `minirtc show`, resumes with `minirtc train --resume`)."""
    return args.out / f"08_lecture_run_seed{seed}"


def train_in_background(seed: int) -> subprocess.Popen:
    """Start `minirtc train --profile lecture` for one seed, as a teacher would type it."""
    flags = ["--profile", "lecture", "--seed", str(seed), "--steps", str(steps), "--overwrite", "--quiet"]
    command = [sys.executable, "-m", "minirtc", "train", *flags, "--out", str(run_dir_of(seed))]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


start = time.perf_counter()
for first in range(0, len(seeds), CORES):
    running = {seed: train_in_background(seed) for seed in seeds[first : first + CORES]}
    for seed, process in running.items():
        output = process.communicate()[0].strip()  # waits for this seed's run to end
        if process.returncode != 0:
            sys.exit(f"training seed {seed} failed:\n{output}")
        elapsed = (time.perf_counter() - start) / 60
        print(f"seed {seed} trained ({elapsed:.1f} min): {output.splitlines()[-1]}")
minutes = (time.perf_counter() - start) / 60
losses = {seed: final_loss(run_dir_of(seed)) for seed in seeds}  # mean of the last 3 logged intervals
chosen = min(losses, key=losses.get)
run_dir = run_dir_of(chosen)
print(f"Trained {len(seeds)} seeds in {minutes:.1f} minutes; the lowest final loss is seed {chosen}'s.")


# %% Score: MIG of every seed (the labels come in only now), and the chosen seed's latents
def mig_of(seed: int) -> float:
    """MIG (reference recipe) of one seed's run over the varying factors."""
    run = load_run(run_dir_of(seed))
    scores = evaluate_representation(run.dataset, run.encode, metrics=["mig"], seed=seed, progress=False)
    return scores["mig"]["mig"]


migs = {seed: mig_of(seed) for seed in seeds}
for seed in seeds:
    shown = "  <- shown" if seed == chosen else ""
    print(f"  seed {seed}: final loss {losses[seed]:.1f}, MIG {migs[seed]:.3f}{shown}")
run = load_run(run_dir)
images = run.dataset.images(np.arange(len(run.dataset)))  # (256, 64, 64, 1)
mu, logvar = run.encode(images)  # (256, D) each
kl = kl_per_latent(mu, logvar)  # (D,) nats
active = active_latents(mu)  # (D,) bool
factors = run.dataset.index_to_factors(np.arange(len(run.dataset)))[:, varying_factors(run.dataset)]  # (N, 2)
mi = mutual_info_matrix(factors, mu)  # (D, 2) nats, mu in 20 bins as MIG takes it
largest = [f"z{int(np.argmax(mi[:, k])) + 1}" for k in range(mi.shape[1])]  # per factor
print("Mutual information (nats) of the shown seed, rows z1..zD, columns posX, posY:")
print(np.array2string(mi, precision=2))
print(f"MIG over posX and posY: {migs[chosen]:.3f} (1 = each position in exactly one latent)")
print("KL per latent (nats):", " ".join(f"{v:.2f}" for v in kl), f"; {int(active.sum())} active")

# %% The traversal figure and the rest of `minirtc show`
written = show_run(run_dir, args.out / "08_lecture_show", ShowSettings(seed=chosen), show_progress=False)
atomic_write_bytes(args.out / "08_lecture_positions.png", written["traversals"].read_bytes())
print(f"The traversal to show the class: {args.out / '08_lecture_positions.png'}")

# %% The lesson's checks
lesson.check("the shown seed trained to the end", run.step == steps, f"step {run.step} of {steps}")
if not args.quick:
    lesson.check(
        "posX and posY are each carried most by a different latent",
        len(set(largest)) == len(largest),
        f"the latent most informative of posX, posY: {', '.join(largest)}; MIG {migs[chosen]:.3f}",
    )
lesson.numbers.update(
    seeds=seeds,
    chosen_seed=chosen,
    final_loss={str(s): v for s, v in losses.items()},
    mig_per_seed={str(s): v for s, v in migs.items()},
    mig=migs[chosen],
    mutual_information=mi.tolist(),
    largest=largest,
    kl_per_latent=kl.tolist(),
    active=int(active.sum()),
    minutes=minutes,
    steps=steps,
    figures=sorted(str(p) for p in written.values()),
)
sys.exit(lesson.finish(args.out))
