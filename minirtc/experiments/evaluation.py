"""Score a trained run with the metric suite and store `metrics.json` in its directory.

The one place that joins a run directory (training) with the metrics and the one
writer of `metrics.json`; the `minirtc evaluate` command and the sweeps call it.

metrics.json: {"status": "finished", "step", "seed", "num_train", "num_eval",
"num_elbo", "dataset", "scores": {metric: {score: value}}, "metric_wall_s": {metric:
seconds}, "wall_s", "cpu_s"};
a sweep records a metric failure as {"status": "failed", "error", "traceback"}.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from minirtc.metrics import evaluate_representation
from minirtc.metrics.suite import resolve_metrics
from minirtc.training.records import atomic_write_json
from minirtc.training.restore import load_run

METRICS_FILE = "metrics.json"


def evaluate_run(
    run_dir: str | Path,
    metrics: str | list[str] = "all",
    seed: int | None = None,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    progress: bool = True,
    device: str | None = None,
    num_elbo: int = 2_000,
    n_jobs: int | None = None,
) -> dict[str, Any]:
    """Run the chosen metrics on the run's mean/sampled representation; write metrics.json atomically.

    Metrics sample from the run's dataset (its full factor grid, also when the
    run trained on a subset), so every run of a sweep is scored on the same data.
    `seed=None` takes the run's own seed, so `minirtc evaluate` and a sweep give
    a run the same numbers.  `n_jobs` only parallelises DCI's tree fits (same
    numbers for any value).
    """
    start, cpu = time.perf_counter(), time.process_time()
    run = load_run(run_dir, device=device)
    seed = run.config.seed if seed is None else seed
    scores, timings = {}, {}
    for name in resolve_metrics(metrics):  # one at a time to time each; a metric's rng is its own
        clock = time.perf_counter()
        scores[name] = evaluate_representation(
            run.dataset,
            run.encode,
            metrics=[name],
            seed=seed,
            num_train=num_train,
            num_eval=num_eval,
            num_elbo=num_elbo,
            progress=progress,
            n_jobs=n_jobs,
        )[name]
        timings[name] = time.perf_counter() - clock
    record = {
        "status": "finished",
        "step": run.step,
        "seed": seed,
        "num_train": num_train,
        "num_eval": num_eval,
        "num_elbo": num_elbo,
        "dataset": run.dataset.describe(),
        "scores": scores,
        "metric_wall_s": timings,
        "wall_s": time.perf_counter() - start,
        "cpu_s": time.process_time() - cpu,
    }
    atomic_write_json(Path(run_dir) / METRICS_FILE, record)
    return record
