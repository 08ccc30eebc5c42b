"""`minirtc evaluate RUN_DIR`: score a trained run with the metrics of docs/metrics.md."""

from __future__ import annotations

import re

import click

MAX_POINTS = 10_000_000  # a typo's extra zeros, refused before they allocate


def _n_jobs(ctx, param, value):
    if value == -1 or 1 <= value <= 4096:
        return value
    raise click.BadParameter(f"must be -1 (every core) or from 1 to 4096, got {value}")


def _device(ctx, param, value):
    if value is None or re.fullmatch(r"cpu|auto|cuda(:\d+)?", value):
        return value
    raise click.BadParameter(f"must be cpu, cuda, cuda:N or auto, got {value!r}")


@click.command("evaluate")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--metrics",
    default="all",
    show_default=True,
    help="'all' or comma-separated names (see minirtc.metrics.METRICS).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**32 - 1),
    default=None,
    help="Seed of every metric's sampling  [default: the run's own seed, as in a sweep]",
)
@click.option(
    "--num-train",
    type=click.IntRange(min=2, max=MAX_POINTS),
    default=10_000,
    show_default=True,
    help="Training points / votes (default 10,000, as Locatello et al. 2019).",
)
@click.option(
    "--num-eval",
    type=click.IntRange(min=2, max=MAX_POINTS),
    default=5_000,
    show_default=True,
    help="Evaluation points / votes (default 5,000, as Locatello et al. 2019).",
)
@click.option(
    "--num-elbo",
    type=click.IntRange(min=2, max=MAX_POINTS),
    default=2_000,
    show_default=True,
    help="Posteriors in the full-data ELBO decomposition (docs/metrics.md#elbo-decomposition); "
    "cost grows as its square.",
)
@click.option(
    "--n-jobs",
    type=int,
    callback=_n_jobs,
    default=-1,
    show_default=True,
    help="Parallel tree fits in DCI (-1: every core); the numbers do not depend on it.",
)
@click.option(
    "--device",
    default=None,
    callback=_device,
    help="torch runs: evaluate on this device instead of the run's.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def evaluate_command(run_dir, metrics, seed, num_train, num_eval, num_elbo, n_jobs, device, quiet):
    """Score the run in RUN_DIR (either backend); writes RUN_DIR/metrics.json and prints a table."""
    from minirtc.experiments.evaluation import evaluate_run
    from minirtc.metrics import METRICS, format_table

    chosen = "all" if metrics == "all" else [m.strip() for m in metrics.split(",") if m.strip()]
    if chosen != "all":
        unknown = sorted(set(chosen) - set(METRICS))
        if unknown:
            raise click.ClickException(f"unknown metrics {unknown}; choose from: {', '.join(METRICS)}")
    from minirtc.training.lock import run_lock

    try:
        with run_lock(run_dir):  # refused while a training run writes here
            record = evaluate_run(
                run_dir,
                chosen,
                seed,
                num_train,
                num_eval,
                progress=not quiet,
                device=device,
                num_elbo=num_elbo,
                n_jobs=n_jobs,
            )
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(format_table(record["scores"]))
    click.echo("seconds: " + ", ".join(f"{m} {t:.1f}" for m, t in record["metric_wall_s"].items()))
    click.echo(f"wrote {run_dir}/metrics.json")


def register(main: click.Group) -> None:
    main.add_command(evaluate_command)
