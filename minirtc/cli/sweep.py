"""`minirtc sweep`, `minirtc plot`, `minirtc report`: options in, one library call out (E3-E6)."""

from __future__ import annotations

import click

from minirtc.experiments.sweep import EXECUTORS, PROFILES, parse_betas, parse_metrics, parse_models
from minirtc.training.seeds import parse_seeds


def _parsed(parser):
    """A click callback that runs a library parser and turns its ValueError into a usage error."""

    def callback(ctx, param, value):
        if value is None:
            return None
        try:
            return parser(value)
        except ValueError as error:
            raise click.BadParameter(str(error)) from None

    return callback


@click.command("sweep")
@click.option(
    "--models", callback=_parsed(parse_models), help="Comma-separated models.  [default: the profile's]"
)
@click.option(
    "--betas",
    callback=_parsed(parse_betas),
    help="TC weights, e.g. 2,4,6 (factor-vae's gamma, rtc-vae's beta).  [default: the profile's]",
)
@click.option(
    "--seeds", callback=_parsed(parse_seeds), help="Seeds, e.g. 0-9 or 0-4,7.  [default: the profile's]"
)
@click.option("--dataset", help="Dataset name (see `minirtc data info`); needed for a new sweep.")
@click.option(
    "--profile",
    type=click.Choice(list(PROFILES)),
    default=None,
    help="The grid's starting settings (docs/training.md#profiles): laptop (NumPy MLP, reduced data "
    "and steps), cpu (full dSprites, torch MLP, 2 CPU cores), paper (torch conv, the paper's settings), "
    "classroom or lecture.  [default: laptop, or the saved sweep's]",
)
@click.option("--steps", type=click.IntRange(min=1), help="Override the profile's training steps.")
@click.option("--quick", is_flag=True, help="Smoke-test scale: a tenth of the steps and metric samples.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where real data files live.")
@click.option("--no-eval", is_flag=True, help="Train only; skip the metric suite (E6).")
@click.option(
    "--metrics",
    callback=_parsed(parse_metrics),
    help="Metric suite: 'all' or names, e.g. mig,sap,dci.  [default: the profile's]",
)
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="local",
    show_default=True,
    help="local processes, or Ray tasks (pip install 'minirtc[ray]').",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Local executor: runs at once, each in its own process with one thread.",
)
@click.option("--ray-address", help="Ray cluster to join (else $RAY_ADDRESS, else a local Ray).")
@click.option(
    "--group-seeds/--no-group-seeds",
    default=None,
    help="torch backend: train the seeds of each model and beta as one batched ensemble, one task "
    "(one GPU) per group; results equal separate runs to float tolerance.  "
    "[default: off, or the saved sweep's]",
)
@click.option(
    "--retry-failed", is_flag=True, help="Also retry runs that failed (from their last checkpoint)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Sweep directory.  [default: sweeps/<profile>-<dataset>]",
)
@click.option(
    "--log",
    multiple=True,
    help="Live logging of every run trained: tensorboard and/or mlflow, each run under its own name.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the settings and the plan (runs, steps, images, hours), then exit; writes nothing.  "
    "Without --dataset and --out: the profile's whole grid, every dataset it lists.",
)
@click.option(
    "--steps-per-s",
    type=click.FloatRange(min=0, min_open=True),
    help="--dry-run: ASSUME this many training steps/s per run for the hours.  "
    "[default: a measured record, if any]",
)
@click.option(
    "--throughput",
    type=click.Path(dir_okay=False),
    help="--dry-run: measured steps/s from this record (benchmarks/gpu_check.sh writes one).  "
    "[default: benchmarks/results/gpu-throughput.json when it exists]",
)
def sweep_command(
    models,
    betas,
    seeds,
    dataset,
    profile,
    steps,
    quick,
    data_dir,
    no_eval,
    metrics,
    executor,
    jobs,
    ray_address,
    group_seeds,
    retry_failed,
    out,
    log,
    dry_run,
    steps_per_s,
    throughput,
):
    """Train a grid of models x betas x seeds and evaluate each run (paper Sec. 6, E3-E6).

    Rerunning the same command resumes: finished runs are skipped, interrupted ones
    continue from their checkpoint, failed ones are left alone unless --retry-failed.
    `minirtc sweep --out DIR` alone resumes the sweep saved in DIR.

    \b
    Examples:
      minirtc sweep --dataset dsprites-procedural --jobs 2
      minirtc sweep --models factor-vae,rtc-vae --betas 2,4,6,8,10 --seeds 0-9 \\
          --dataset dsprites --profile paper --executor ray
      minirtc sweep --out sweeps/laptop-dsprites-procedural          # resume
      minirtc sweep --profile paper --dry-run                       # the paper's grid and its cost
    """
    from minirtc.errors import ConfigError
    from minirtc.experiments.sweep import SweepError, plan_sweep, run_sweep
    from minirtc.training.loggers import check_installed, parse_log_option

    options = (models, betas, seeds, steps, quick, data_dir)
    settings = dict(evaluate=not no_eval, metrics=metrics, group_seeds=group_seeds)
    try:
        log = parse_log_option(log)
        check_installed(log)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    try:
        if dry_run:
            _echo_plan(out, dataset, profile, options, settings, steps_per_s, throughput)
            return
        if steps_per_s is not None or throughput is not None:
            raise SweepError("--steps-per-s and --throughput only estimate a plan: give --dry-run")
        out, requested = plan_sweep(out, dataset, profile, *options, **settings)
        result = run_sweep(
            out,
            requested,
            executor=executor,
            jobs=jobs,
            retry_failed=retry_failed,
            ray_address=ray_address,
            echo=click.echo,
            log=log,
        )
    except SweepError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"sweep directory: {out}  (next: minirtc report {out})")
    if result.interrupted:
        raise click.ClickException(f"{len(result.interrupted)} runs were interrupted; rerun to resume them")


def _echo_plan(out, dataset, profile, options, settings, steps_per_s, throughput) -> None:
    """--dry-run: the settings, the tasks, the grid's size and its hours; reads files, writes none."""
    import json

    from minirtc.experiments import sweep

    if dataset is None and out is None:
        plans = sweep.plan_profile(profile, *options, **settings)
    else:
        out, requested = sweep.plan_sweep(out, dataset, profile, *options, **settings)
        plans = [(out, sweep.preview_spec(out, requested))]
    spec = plans[0][1]
    rate = sweep.plan_throughput(spec, steps_per_s, throughput)  # before any output: errors alone
    click.echo(json.dumps(spec.to_dict(), indent=2))
    if len(plans) > 1:
        click.echo(f"(the same settings for {', '.join(s.dataset for _, s in plans[1:])})")
    tasks = sweep.describe_plan(spec)
    click.echo("\n".join([f"each dataset's sweep: {tasks[0]}", *tasks[1:]] if len(plans) > 1 else tasks))
    click.echo("\n".join(sweep.describe_cost(plans, rate)))
    if len(plans) == 1:
        click.echo(f"sweep directory: {plans[0][0]}")


@click.command("plot")
@click.argument("sweep_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Figure directory.  [default: SWEEP_DIR/figures]",
)
@click.option(
    "--pair-beta",
    type=click.FloatRange(min=0),
    default=None,
    help="Beta of the runs shown in pair plots, traversals, reconstructions.  [default: largest]",
)
@click.option(
    "--points",
    type=click.IntRange(min=2),
    default=1000,
    show_default=True,
    help="Data items encoded for the pair plots.",
)
def plot_command(sweep_dir, out, pair_beta, points):
    """Draw the paper's figures (Figs. 3-10) and traversals/reconstructions from a sweep."""
    from minirtc.experiments.plots import make_figures
    from minirtc.experiments.sweep import SweepError

    try:
        make_figures(sweep_dir, out, pair_beta=pair_beta, num_points=points, echo=click.echo)
    except SweepError as error:
        raise click.ClickException(str(error)) from None


@click.command("report")
@click.argument("sweep_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Report file.  [default: SWEEP_DIR/report.md]",
)
@click.option("--no-plots", is_flag=True, help="Embed the figures already drawn instead of redrawing them.")
def report_command(sweep_dir, out, no_plots):
    """Write the Markdown report: scale, dataset, TC and ELBO numbers, claim (4), metrics, figures."""
    from minirtc.experiments.report import write_report
    from minirtc.experiments.sweep import SweepError

    try:
        write_report(sweep_dir, out, plots=not no_plots, echo=click.echo)
    except SweepError as error:
        raise click.ClickException(str(error)) from None


def register(main: click.Group) -> None:
    main.add_command(sweep_command)
    main.add_command(plot_command)
    main.add_command(report_command)
