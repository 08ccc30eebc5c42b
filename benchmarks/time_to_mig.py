"""Time to disentangle: train one config and score MIG (reference recipe) as it trains.

    python benchmarks/time_to_mig.py --set model=beta-tcvae --set backend=torch \
        --set hidden=[512,512] --set batch_size=1024 --set lr=0.002 \
        --eval-every 1000 --max-minutes 90 --threads 1 --out runs/ttm/a --rows results.jsonl

The run trains with the public API, `minirtc.training.train(config, out, resume=True)`,
one segment of `--eval-every` steps at a time (a resume extends `steps`, nothing
else).  After each segment the checkpoint is re-opened and scored with the
reference MIG recipe (`minirtc.metrics.evaluate_representation`, 10,000 points,
20 bins, the run's seed; never changed here).  One JSON row per evaluation goes
to `--rows` (appended): steps, images seen, training minutes (the step loops'
wall time plus one data load), CPU minutes of the `train` calls (every
segment reloads the data: a few seconds each), MIG, active units,
KL per latent.  The last row of a run carries minutes-to-MIG 0.1 and 0.2
(None when not reached).

`--factor-ranges '{"shape": [0, 1], ...}'` trains and scores on a sub-grid of the
dataset: it is the run's `factor_ranges` setting (docs/data.md), the same as
`minirtc train --factor-ranges shape=0:1,...`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from minirtc.metrics import evaluate_representation
from minirtc.training import loop, restore, train
from minirtc.training.config import TrainConfig
from minirtc.training.signals import Interrupted

KL_POINTS = 10_000  # observations whose posteriors give the KL per latent and the active units
TARGETS = (0.1, 0.2)


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """["key=value", ...] -> {key: JSON value, or the string itself}."""
    settings = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def latent_summary(run: restore.TrainedRun, seed: int) -> dict[str, Any]:
    """KL per latent (nats, mean over KL_POINTS observations) and active units (Var mu > 0.01)."""
    rng = np.random.default_rng([seed, 11])
    factors = run.dataset.sample_factors(KL_POINTS, rng)
    images = run.dataset.sample_observations_from_factors(factors, rng)
    mu, logvar = run.encode(images)  # (B, D) each
    kl = 0.5 * np.mean(mu**2 + np.exp(logvar) - 1.0 - logvar, axis=0)  # (D,)
    return {
        "active_units": int(np.sum(np.var(mu, axis=0) > 0.01)),
        "kl_per_latent": [round(float(v), 3) for v in kl],
    }


def score(out: Path) -> dict[str, Any]:
    """MIG with the reference recipe, plus the latents' KL, of the run's latest checkpoint."""
    run = restore.load_run(out)
    mig = evaluate_representation(
        run.dataset, run.encode, metrics=["mig"], seed=run.config.seed, progress=False
    )
    return {"step": run.step, "mig": mig["mig"]["mig"], **latent_summary(run, run.config.seed)}


def minutes_to(rows: list[dict[str, Any]], target: float) -> float | None:
    """Training minutes of the first evaluation with MIG >= target (None if none)."""
    return next((r["minutes"] for r in rows if r["mig"] >= target), None)


def run_benchmark(args: argparse.Namespace) -> list[dict[str, Any]]:
    settings = parse_settings(args.set)
    if args.factor_ranges:
        settings["factor_ranges"] = args.factor_ranges
    every = args.eval_every
    base = TrainConfig.from_dict(
        {
            "log_every": math.gcd(every, 100),
            "eval_every": every,
            "checkpoint_every": every,
            **settings,
        }
    ).checked()
    out = Path(args.out)
    t0 = time.perf_counter()
    loop.load_training_data(base)  # timed once: a user's run loads its data once
    load_minutes = (time.perf_counter() - t0) / 60
    rows: list[dict[str, Any]] = []
    train_minutes, cpu_minutes, steps = load_minutes, 0.0, 0
    while steps < args.max_steps and train_minutes < args.max_minutes and cpu_minutes < args.max_cpu_minutes:
        steps = min(steps + every, args.max_steps)
        config = TrainConfig.from_dict({**base.to_dict(), "steps": steps})
        cpu0 = time.process_time()
        summary = train(config, out, resume=steps > every, overwrite=steps == every, progress=False)
        train_minutes += summary["wall_s"] / 60
        cpu_minutes += (time.process_time() - cpu0) / 60
        scored = score(out)
        images_per_step = base.batch_size * (
            2 if config.objective.resolved().tc_estimator == "discriminator" else 1
        )
        row = {
            "name": args.name or out.name,
            "settings": settings,
            "threads": args.threads,
            "steps": steps,
            "images": steps * images_per_step,
            "minutes": round(train_minutes, 3),
            "cpu_minutes": round(cpu_minutes, 3),
            "load": os.getloadavg()[0],
            **scored,
        }
        rows.append(row)
        row["minutes_to_mig"] = {str(t): minutes_to(rows, t) for t in TARGETS}
        append_row(Path(args.rows), row)
        print(json.dumps(row), flush=True)
    return rows


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line (a line is written whole: one write of a short string)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], help="TrainConfig field=JSON value")
    parser.add_argument("--factor-ranges", type=json.loads, default=None, help='e.g. {"shape": [0, 1]}')
    parser.add_argument("--eval-every", type=int, default=1000, help="steps between MIG evaluations")
    parser.add_argument("--max-steps", type=int, default=10**9)
    parser.add_argument(
        "--max-minutes", type=float, default=90.0, help="stop after this many training minutes"
    )
    parser.add_argument(
        "--max-cpu-minutes", type=float, default=10**9, help="stop after this many CPU minutes"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    parser.add_argument("--out", required=True, help="run directory (overwritten)")
    parser.add_argument("--rows", required=True, help="JSON-lines file the rows are appended to")
    parser.add_argument("--name", default=None)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    if "torch" in json.dumps(parse_settings(args.set)):
        import torch

        torch.set_num_threads(args.threads)
    try:
        run_benchmark(args)
    except ValueError as error:
        print(f"time_to_mig: {error}", file=sys.stderr)
        return 2
    except Interrupted as stopped:  # SIGINT/SIGTERM: the segment's checkpoint is written, rows kept
        print(f"time_to_mig: {stopped}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
