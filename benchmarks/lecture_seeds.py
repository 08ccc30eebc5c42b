"""The lecture profile over many seeds: each seed's MIG and final loss, and how often the
lowest-loss seed of a group disentangles.

    python benchmarks/lecture_seeds.py --seeds 0-9 --out runs/lecture --rows results.jsonl

Each seed trains the config `minirtc train --profile lecture --seed S` resolves (in this
process, one BLAS thread) and is scored with the reference MIG recipe (10,000 points,
20 bins, the seed).  Its "final loss" is `records.final_loss`, the label-free score
examples/08_lecture_positions.py picks a seed by.  One JSON row per seed goes to
`--rows` (appended).  At the end, over every `--group-size` seeds of those scored (4,
as the example trains), the share whose lowest-loss seed reaches MIG 0.5, against one
seed alone and the best of the group.  `--steps N` shortens each run (for a check that
the script runs).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from minirtc.metrics import evaluate_representation
from minirtc.training import train
from minirtc.training.profiles import profile_config
from minirtc.training.records import final_loss
from minirtc.training.restore import load_run
from minirtc.training.seeds import parse_seeds

TARGET = 0.5  # the lecture goal: MIG over the varying factors


def train_and_score(seed: int, steps: int | None, out: Path) -> dict[str, Any]:
    """Train the lecture profile with `seed`; its MIG, final loss and training minutes."""
    config = profile_config("lecture")
    config = replace(config, seed=seed, steps=steps or config.steps).checked()
    run_dir = out / f"seed{seed}"
    start = time.perf_counter()
    train(config, run_dir, overwrite=True, progress=False)
    minutes = (time.perf_counter() - start) / 60
    run = load_run(run_dir)
    scores = evaluate_representation(run.dataset, run.encode, metrics=["mig"], seed=seed, progress=False)
    return {
        "seed": seed,
        "steps": config.steps,
        "mig": scores["mig"]["mig"],
        "final_loss": final_loss(run_dir),
        "minutes": round(minutes, 3),
    }


def pick_by_loss(rows: list[dict[str, Any]], size: int) -> dict[str, Any]:
    """Over every `size` seeds: the share whose lowest-loss seed, best seed and a single seed reach TARGET."""
    groups = list(itertools.combinations(rows, size))
    if not groups:
        return {"groups": 0}

    def share(chosen) -> float:
        return sum(chosen(g)["mig"] >= TARGET for g in groups) / len(groups)

    return {
        "groups": len(groups),
        "size": size,
        "lowest_loss_reaches": share(lambda g: min(g, key=lambda r: r["final_loss"])),
        "best_mig_reaches": share(lambda g: max(g, key=lambda r: r["mig"])),
        "one_seed_reaches": sum(r["mig"] >= TARGET for r in rows) / len(rows),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-9", help="seeds to train, e.g. 0-9 or 0,3,5")
    parser.add_argument("--steps", type=int, default=None, help="steps per run (default: the profile's)")
    parser.add_argument("--out", required=True, help="folder for the run directories (overwritten)")
    parser.add_argument("--rows", required=True, help="JSON-lines file the rows are appended to")
    parser.add_argument("--group-size", type=int, default=4, help="seeds a pick chooses among")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as error:
        print(f"lecture_seeds: {error}", file=sys.stderr)
        return 2
    rows = []
    for seed in seeds:
        row = train_and_score(seed, args.steps, Path(args.out))
        rows.append(row)
        with Path(args.rows).open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    print(json.dumps({"pick_by_loss": pick_by_loss(rows, args.group_size)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
