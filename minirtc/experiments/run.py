"""Run E1 or E2 end to end: compute, then write CSV, figures and a JSON summary into one folder.

What the `minirtc experiment` commands call (one function each).  Computing lives
in `estimators.py` / `theorem1.py`, drawing in `*_figures.py`; this module only
joins them and names the files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from minirtc.experiments import estimators as e1
from minirtc.experiments import theorem1 as e2
from minirtc.experiments import theorem1_summary as e2_summary
from minirtc.experiments.figures import save_figure
from minirtc.experiments.outputs import prepare_out_dir, write_csv, write_json


@dataclass(frozen=True)
class Written:
    """What an experiment wrote and the text summary to print."""

    files: tuple[Path, ...]
    summary: dict
    text: str


def run_estimators(
    config: e1.EstimatorStudyConfig,
    out: str | Path,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> Written:
    """E1: estimators.csv, three figures and estimators_summary.json in `out`."""
    from minirtc.experiments import estimators_figures as figs

    out = prepare_out_dir(out)
    rows = e1.run_estimator_study(config, jobs=jobs, progress=progress)
    summary = e1.summarise(config, rows)
    D, M = summary["summary_dim"], config.reference_batch_size
    files = [
        write_csv(out / "estimators.csv", rows),
        save_figure(figs.plot_estimates_vs_truth(rows, M), out / "estimators_vs_truth.png"),
        save_figure(figs.plot_error_vs_dim(rows, M), out / "estimators_error_vs_dim.png"),
        save_figure(figs.plot_error_vs_batch(rows, D), out / "estimators_error_vs_batch.png"),
        write_json(out / "estimators_summary.json", summary),
    ]
    text = e1.format_error_table(summary["error_tables"][str(M)], D, M)
    return Written(tuple(files), summary, text)


def run_theorem1(config: e2.Theorem1Config, out: str | Path) -> Written:
    """E2: three CSVs, two figures and theorem1_summary.json in `out`."""
    from minirtc.experiments import theorem1_figures as figs

    out = prepare_out_dir(out)
    results = e2.run_theorem1(config)
    summary = e2_summary.summarise(config, results)
    files = [
        write_csv(out / "theorem1_closed_form.csv", results.closed_form),
        write_csv(out / "theorem1_monte_carlo.csv", results.monte_carlo),
        write_csv(out / "theorem1_shutdown.csv", results.shutdown),
        save_figure(figs.plot_theorem1(results, config), out / "theorem1.png"),
        save_figure(figs.plot_shutdown(results, config), out / "theorem1_shutdown.png"),
        write_json(out / "theorem1_summary.json", summary),
    ]
    return Written(tuple(files), summary, e2_summary.format_summary(summary))
