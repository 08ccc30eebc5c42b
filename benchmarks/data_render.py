"""How fast the procedural datasets deliver images: random batches, subsets, the whole grid.

    python benchmarks/data_render.py [--quick] [--write DIR] [--out FILE.json]

Measures what training does: `images(index)` for 64 and 10,000 random items,
`images(np.arange(len))` of a subset (the NumPy trainer's one-off load) and of the
whole procedural dSprites (the torch fast path), plus Shapes3D's one-off
ray-casting of its 480 geometries.  `--write DIR` also times writing the full
procedural dSprites as a real-format `.npz` and reading it back.  Nothing here
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

from minirtc import data
from minirtc.data.dsprites import DSprites, ProceduralDSprites, write_dsprites_npz
from minirtc.data.files import atomic_path
from minirtc.data.shapes3d import ProceduralShapes3D


def seconds(fn: Callable[[], object], repeats: int = 1) -> float:
    """Median wall-clock seconds of `repeats` calls."""
    return timed(fn, repeats)[0]


def timed(fn: Callable[[], object], repeats: int = 1) -> tuple[float, float]:
    """Median wall-clock and median process-CPU seconds of `repeats` calls.

    On a shared machine the CPU time (all threads of this process) is the steadier number.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return float(np.median(wall)), float(np.median(cpu))


def random_batches(ds, rng: np.random.Generator) -> dict[str, float]:
    """Wall and CPU seconds for 64 random items (median of 50) and 10,000 random items (median of 3)."""
    out = {}
    for n, repeats in ((64, 50), (10_000, 3)):
        wall, cpu = timed(lambda n=n: ds.images(rng.integers(0, len(ds), n)), repeats)
        out.update({f"random_{n}_s": wall, f"random_{n}_cpu_s": cpu})
    return out


def dsprites_cases(quick: bool, rng: np.random.Generator) -> dict[str, float]:
    ds = ProceduralDSprites()
    out = {f"dsprites_{k}": v for k, v in random_batches(ds, rng).items()}
    for n in (10_000, 50_000) if quick else (10_000, 50_000, 100_000):
        subset = data.load("dsprites-procedural", subset=n, seed=0)
        out[f"dsprites_subset_{n}_all_s"] = seconds(lambda s=subset: s.images(np.arange(len(s))))
    if not quick:
        everything = np.arange(len(ds))
        for workers in (1, 2):
            threads = ProceduralDSprites(workers=workers)
            wall, cpu = timed(lambda t=threads: t.images(everything))
            out[f"dsprites_all_737280_{workers}thread_s"] = wall
            out[f"dsprites_all_737280_{workers}thread_cpu_s"] = cpu
    return out


def shapes3d_cases(quick: bool, rng: np.random.Generator) -> dict[str, float]:
    cold = ProceduralShapes3D()
    out = {"shapes3d_first_64_s": seconds(lambda: cold.images(rng.integers(0, len(cold), 64)))}
    out["shapes3d_all_geometries_s"] = seconds(
        lambda: ProceduralShapes3D().images(np.arange(480))
    )  # 480 distinct
    warm = ProceduralShapes3D()
    warm.images(np.arange(480))
    out.update({f"shapes3d_warm_{k}": v for k, v in random_batches(warm, rng).items()})
    subset = data.load("shapes3d-procedural", subset=10_000, seed=0)
    out["shapes3d_subset_10000_all_s"] = seconds(lambda: subset.images(np.arange(len(subset))))
    return out


def file_cases(directory: Path) -> dict[str, float]:
    """Write the full procedural dSprites as a compressed .npz, then read all its images back."""
    path = directory / "dsprites_procedural.npz"
    out = {"dsprites_write_npz_s": seconds(lambda: write_dsprites_npz(path, ProceduralDSprites()))}
    out["dsprites_npz_bytes"] = path.stat().st_size
    loaded = DSprites(path)
    out["dsprites_npz_open_s"] = seconds(lambda: DSprites(path))
    out["dsprites_npz_first_batch_s"] = seconds(lambda: loaded.images(np.arange(64)))  # decompresses once
    out["dsprites_npz_random_64_s"] = seconds(lambda: loaded.images(np.arange(0, 737_280, 11_520)), 50)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the whole-dataset renders")
    parser.add_argument("--write", type=Path, default=None, help="also time the .npz round trip in DIR")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    results = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    results["load_average_1min"] = os.getloadavg()[0]  # other work on the machine inflates wall times
    results.update(dsprites_cases(args.quick, rng))
    results.update(shapes3d_cases(args.quick, rng))
    results["gaussian_all_4096_s"] = seconds(lambda: data.load("gaussian").images(np.arange(4096)), 5)
    if args.write is not None:
        results.update(file_cases(args.write))
    for key, value in results.items():
        shown = f"{value:10.4f}" if isinstance(value, float) else f"{value:>10}"
        print(f"{key:<36} {shown}")
    if args.out is not None:
        with atomic_path(args.out) as tmp:
            tmp.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
