"""How long each metric of docs/metrics.md takes at its default sizes, on a dSprites-sized factor grid.

    python benchmarks/metrics_speed.py [--quick] [--metrics all|a,b] [--n-jobs N]
                                       [--images fake|procedural] [--out FILE.json]

The representation is fake and cheap, so the numbers are the metrics' own cost
(sampling, classifiers, trees), not a model's: 10 codes, five near the five
varying dSprites factors and five mixtures of them, plus noise.  `--images fake`
(default) renders each factor vector as a 1 x 1 x 6 "image"; `--images
procedural` renders real 64 x 64 procedural dSprites and projects 8 x 8-pooled
pixels to 10 codes, adding the rendering cost.  MIG's core is also timed alone on 10,000
points x 10 codes.  `--quick` uses a tenth of the default sizes.  Nothing here
is asserted anywhere: this is how we measure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

import numpy as np

from minirtc.data.base import GroundTruthDataset
from minirtc.data.files import atomic_path
from minirtc.metrics import evaluate_representation, mig
from minirtc.metrics.suite import resolve_metrics

DSPRITES_SIZES = (1, 3, 6, 40, 32, 32)  # colour, shape, scale, orientation, posX, posY (docs/data.md)


class FactorVectors(GroundTruthDataset):
    """The dSprites factor grid with each factor vector as its own (1, 1, 6) uint8 image."""

    name = "dsprites-factor-vectors"
    factor_sizes = DSPRITES_SIZES
    factor_names = ("color", "shape", "scale", "orientation", "posX", "posY")
    image_shape = (1, 1, 6)
    pixel_max = 255

    def images(self, index: np.ndarray) -> np.ndarray:
        return self.index_to_factors(index).astype(np.uint8)[:, None, None, :]


def factor_encoder(seed: int = 0) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """encode_fn for FactorVectors: mu (B, 10) = [factors + noise, mixtures], logvar = -3."""
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((5, 5))  # (5 factors, 5 mixed codes)
    scale = 1.0 / (np.array(DSPRITES_SIZES[1:]) - 1)

    def encode(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f = images.reshape(len(images), -1)[:, 1:] * scale  # (B, 5) in [0, 1]
        mu = np.concatenate([f, f @ mix], axis=1) + 0.05 * rng.standard_normal((len(f), 10))
        return mu, np.full_like(mu, -3.0)

    return encode


def pixel_encoder(seed: int = 0) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """encode_fn for 64 x 64 images: 8 x 8 mean-pooling, then a fixed random projection to 10 codes."""
    proj = np.random.default_rng(seed).standard_normal((64, 10))

    def encode(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pooled = images.reshape(len(images), 8, 8, 8, 8).mean(axis=(2, 4)).reshape(len(images), 64)  # (B, 64)
        mu = pooled @ proj  # (B, 10)
        return mu, np.full(mu.shape, -3.0)

    return encode


def seconds(fn: Callable[[], object], repeats: int = 1) -> tuple[float, object]:
    """Median wall-clock seconds of `repeats` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def mig_core_seconds() -> float:
    """MIG's array-level core on 10,000 points x 10 codes with dSprites' 5 varying factors."""
    rng = np.random.default_rng(0)
    factors = np.stack([rng.integers(0, s, 10_000) for s in DSPRITES_SIZES[1:]], axis=1)
    codes = np.concatenate([factors + rng.normal(0, 0.5, factors.shape), rng.standard_normal((10_000, 5))], 1)
    return seconds(lambda: mig(factors, codes), repeats=5)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the default sizes")
    parser.add_argument("--metrics", default="all", help="'all' or comma-separated names to time")
    parser.add_argument(
        "--n-jobs", type=int, default=2, help="parallel tree fits in a second DCI run (0: skip)"
    )
    parser.add_argument("--images", choices=("fake", "procedural"), default="fake")
    parser.add_argument(
        "--out", type=Path, default=None, help="write the results as JSON (after every metric)"
    )
    args = parser.parse_args()

    if args.images == "procedural":
        from minirtc.data.dsprites import ProceduralDSprites

        dataset, encode_fn = ProceduralDSprites(), pixel_encoder()
    else:
        dataset, encode_fn = FactorVectors(), factor_encoder()
    sizes = dict(num_train=1_000, num_eval=500) if args.quick else dict(num_train=10_000, num_eval=5_000)
    names = resolve_metrics(args.metrics)
    report = {
        "images": args.images,
        "sizes": sizes,
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
    }
    timings, scores = {"mig_core_10000x10_s": mig_core_seconds()}, {}
    runs = [(f"{name}_s", [name], {}) for name in names]
    if "dci" in names and args.n_jobs > 0:
        runs.append((f"dci_n_jobs_{args.n_jobs}_s", ["dci"], {"n_jobs": args.n_jobs}))
    for key, chosen, extra in runs:
        timings[key], result = seconds(
            lambda c=chosen, e=extra: evaluate_representation(
                dataset, encode_fn, c, progress=False, **sizes, **e
            )
        )
        scores.update(result)
        print(f"{key:<24} {timings[key]:9.2f}", flush=True)
        report.update(timings=timings, scores=scores, load_average=list(os.getloadavg()))
        if args.out is not None:
            with atomic_path(args.out) as tmp:
                tmp.write_text(json.dumps(report, indent=2) + "\n")
    timings["total_s"] = sum(timings[f"{name}_s"] for name in names)
    print(f"{'total_s':<24} {timings['total_s']:9.2f}")


if __name__ == "__main__":
    main()
