"""`minirtc experiment estimators|theorem1` (E1, E2): options in, one call to `minirtc.experiments.run`."""

from __future__ import annotations

import dataclasses
import os
import time

import click

from minirtc.progress import progress as progress_bar


def _number_list(kind, minimum, maximum=None, max_open=False):
    """A click callback: "2,4,6" -> (2, 4, 6), every value checked against the range."""

    def parse(ctx, param, value):
        if value is None:
            return None
        try:
            values = tuple(kind(v) for v in value.split(",") if v.strip())
        except ValueError:
            raise click.BadParameter(
                f"expected comma-separated {kind.__name__}s like 2,4,8, got {value!r}"
            ) from None
        above = maximum is not None and any(v >= maximum if max_open else v > maximum for v in values)
        if not values or any(v < minimum for v in values) or above:
            bound = "" if maximum is None else f" and {'<' if max_open else '<='} {maximum}"
            raise click.BadParameter(f"every value must be >= {minimum}{bound}, got {value!r}")
        return values

    return parse


def _echo_written(written, started: float) -> None:
    click.echo(written.text)
    click.echo(f"wrote {len(written.files)} files in {time.perf_counter() - started:.1f} s:")
    for path in written.files:
        click.echo(f"  {path}")


@click.group("experiment")
def experiment_group() -> None:
    """The paper's estimator experiments on synthetic latents (E1, E2; docs/experiments.md)."""


@experiment_group.command("estimators", short_help="E1: TC estimators vs both references (Fig. 1).")
@click.option(
    "--out", type=click.Path(file_okay=False), default="runs/experiments/estimators", show_default=True
)
@click.option("--quick", is_flag=True, help="A seconds-long grid (D = 2, 6, 10; one rho; two widths).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for every random choice.")
@click.option("--dims", callback=_number_list(int, 2), help="Latent dimensions D  [default: 2,4,...,16]")
@click.option(
    "--rhos",
    callback=_number_list(float, 0.0, 1.0, True),
    help="Equicorrelations of mu  [default: 0,0.5,0.9]",
)
@click.option("--sigmas", callback=_number_list(float, 1e-3), help="Posterior widths  [default: 0.1,1]")
@click.option("--batch-sizes", callback=_number_list(int, 2), help="Batch sizes M  [default: 16,64,256]")
@click.option("--dataset-size", type=click.IntRange(min=2), help="Items N in q(z)'s mixture  [default: 2048]")
@click.option("--repeats", type=click.IntRange(min=1), help="Repeats per setting  [default: 3]")
@click.option("--disc-steps", type=click.IntRange(min=1), help="Discriminator Adam steps  [default: 250]")
@click.option("--no-discriminator", is_flag=True, help="Skip the discriminator estimator (faster).")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (results do not depend on it).  [default: 2, or 1 on a one-core machine]",
)
def estimators_command(out, quick, seed, dims, rhos, sigmas, batch_sizes, dataset_size, repeats, disc_steps,
                       no_discriminator, jobs):  # fmt: skip
    """E1 (paper Fig. 1): MWS (as published and constant-free), MSS0, MSS1 and the discriminator
    against the population TC and the exact finite-dataset TC.

    Writes estimators.csv (one row per setting and repeat), three PNG figures and
    estimators_summary.json into --out, and prints the error table at D = 10.

    \b
    Examples:
      minirtc experiment estimators --quick
      minirtc experiment estimators --dims 2,4,8,16 --batch-sizes 64,256 --repeats 5
    """
    from minirtc.experiments.discriminator import DiscriminatorConfig
    from minirtc.experiments.estimators import EstimatorStudyConfig
    from minirtc.experiments.run import run_estimators

    config = EstimatorStudyConfig.quick() if quick else EstimatorStudyConfig()
    given = {
        "dims": dims,
        "rhos": rhos,
        "sigmas": sigmas,
        "batch_sizes": batch_sizes,
        "dataset_size": dataset_size,
        "repeats": repeats,
    }
    given = {k: v for k, v in given.items() if v is not None}
    if no_discriminator:
        given["discriminator"] = None
    elif disc_steps is not None:
        given["discriminator"] = dataclasses.replace(
            config.discriminator or DiscriminatorConfig(), steps=disc_steps
        )
    try:
        config = dataclasses.replace(config, seed=seed, **given)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    started = time.perf_counter()
    bars = []  # the bar, made when the number of settings is known

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(progress_bar(total, "E1 settings", unit="setting"))
        bars[0].update(done - bars[0].n)

    try:
        jobs = jobs if jobs is not None else min(2, os.cpu_count() or 1)
        written = run_estimators(config, out, jobs=jobs, progress=progress)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    finally:
        for bar in bars:
            bar.close()
    _echo_written(written, started)


@experiment_group.command("theorem1", short_help="E2: Theorem 1 and a shut-down dimension (Fig. 2).")
@click.option(
    "--out", type=click.Path(file_okay=False), default="runs/experiments/theorem1", show_default=True
)
@click.option("--quick", is_flag=True, help="A seconds-long version (coarser rho grid, smaller samples).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for every random choice.")
@click.option("--no-discriminator", is_flag=True, help="Skip the discriminator in the shut-down study.")
def theorem1_command(out, quick, seed, no_discriminator):
    """E2 (paper Fig. 2, Theorem 1): TC(mu) without bound while TC(z) stays bounded, and a
    shut-down dimension scored by every estimator against both references.

    Writes three CSVs, theorem1.png, theorem1_shutdown.png and theorem1_summary.json
    into --out, and prints the key numbers.

    \b
    Examples:
      minirtc experiment theorem1 --quick
      minirtc experiment theorem1 --out runs/e2 --seed 1
    """
    from minirtc.experiments.run import run_theorem1
    from minirtc.experiments.theorem1 import Theorem1Config

    config = Theorem1Config.quick() if quick else Theorem1Config()
    config = dataclasses.replace(config, seed=seed, **({"discriminator": None} if no_discriminator else {}))
    started = time.perf_counter()
    try:
        written = run_theorem1(config, out)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    _echo_written(written, started)


def register(main: click.Group) -> None:
    main.add_command(experiment_group)
