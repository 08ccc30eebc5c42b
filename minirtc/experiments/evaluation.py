"""Score a trained run with the metric suite and store `metrics.json` in its directory.

The one place that joins a run directory (training) with the metrics; the
`minirtc evaluate` command and the sweeps call it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from minirtc.metrics import evaluate_representation
from minirtc.training.records import atomic_write_json
from minirtc.training.restore import load_run

METRICS_FILE = "metrics.json"


def evaluate_run(
    run_dir: str | Path,
    metrics: str | list[str] = "all",
    seed: int = 0,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    progress: bool = True,
    device: str | None = None,
) -> dict[str, Any]:
    """Run the chosen metrics on the run's mean/sampled representation; write metrics.json atomically.

    Metrics sample from the run's dataset (its full factor grid, also when the
    run trained on a subset), so every run of a sweep is scored on the same data.
    """
    run = load_run(run_dir, device=device)
    results = evaluate_representation(
        run.dataset,
        run.encode,
        metrics=metrics,
        seed=seed,
        num_train=num_train,
        num_eval=num_eval,
        progress=progress,
    )
    record = {
        "step": run.step,
        "seed": seed,
        "num_train": num_train,
        "num_eval": num_eval,
        "dataset": run.dataset.describe(),
        "metrics": results,
    }
    atomic_write_json(Path(run_dir) / METRICS_FILE, record)
    return record
