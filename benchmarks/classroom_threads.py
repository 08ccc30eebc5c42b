"""The classroom run's speed against the number of BLAS threads (NumPy backend).

    python benchmarks/classroom_threads.py [--steps 150] [--rounds 2] [--out FILE.json]

Trains the default configuration (`minirtc train` with no options: the NumPy
backend) for `--steps` steps with BLAS limited to 1 thread, 2 threads, and left
at NumPy's default, the settings interleaved round by round in one process, and
records the wall seconds of each with the machine's load average.  The limits
are applied around `train` with threadpoolctl; OMP_NUM_THREADS is set in this
process (after NumPy's BLAS has started, so it changes nothing there) only so that
the library's own choice (`minirtc/training/threads.py`) stands aside.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_info, threadpool_limits

from minirtc.training import train
from minirtc.training.config import TrainConfig

SETTINGS = {"1": 1, "2": 2, "default": None}


def run_once(steps: int, threads: int | None, out: Path) -> float:
    config = TrainConfig(steps=steps)
    start = time.perf_counter()
    with threadpool_limits(limits=threads):
        train(config, out, overwrite=True, progress=False)
    return time.perf_counter() - start


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "set-by-benchmark")  # the library's choice stands aside
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    default_threads = [p.get("num_threads") for p in threadpool_info() if p.get("user_api") == "blas"]
    seconds: dict[str, list[float]] = {name: [] for name in SETTINGS}
    loads: dict[str, list[float]] = {name: [] for name in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for name, threads in SETTINGS.items():
                loads[name].append(round(os.getloadavg()[0], 2))
                seconds[name].append(round(run_once(args.steps, threads, Path(tmp) / name), 2))
                print(name, seconds[name][-1], "s, load", loads[name][-1], flush=True)
    report = {
        "steps": args.steps,
        "default_blas_threads": default_threads,
        "cpus": os.cpu_count(),
        "seconds": seconds,
        "load": loads,
    }
    print(json.dumps(report))
    if args.out:
        from minirtc.training.records import atomic_write_json

        atomic_write_json(Path(args.out), report)


if __name__ == "__main__":
    main()
