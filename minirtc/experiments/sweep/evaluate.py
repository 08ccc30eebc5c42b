"""Evaluation in a sweep: the metric suite on one trained run, a failure recorded, not raised."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from minirtc.experiments.sweep.directory import METRICS_FILE
from minirtc.training import records


def evaluate_run(run_dir: str | Path, settings: dict[str, Any]) -> dict[str, Any]:
    """Score a trained run with the metric suite (docs/metrics.md), writing metrics.json.

    `settings`: evaluate_representation's `metrics`, `num_train`, `num_eval`.  The
    metrics' seed is the run's seed.  A failure is recorded (status "failed") and
    the sweep goes on.
    """
    from minirtc.experiments import evaluation

    run_dir = Path(run_dir)
    try:
        record = evaluation.evaluate_run(
            run_dir,
            metrics=settings.get("metrics", "all"),
            num_train=settings.get("num_train", 10_000),
            num_eval=settings.get("num_eval", 5_000),
            progress=False,
        )
    except Exception as error:  # a metric that fails is recorded, not fatal to the sweep
        record = {
            "status": "failed",
            "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(),
        }
        records.atomic_write_json(run_dir / METRICS_FILE, {**record, "settings": settings})
    return record
