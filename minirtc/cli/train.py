"""`minirtc train`: parse and check the options, then one call to `minirtc.training.train`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from minirtc.cli.data import parse_ranges
from minirtc.errors import ConfigError
from minirtc.objectives import ObjectiveConfig
from minirtc.training.config import (
    ARCHS,
    BACKENDS,
    DEVICES,
    DTYPES,
    TrainConfig,
)
from minirtc.training.profiles import PROFILES, profile_config

DEFAULTS = TrainConfig()


def _default(name: str) -> str:
    value = DEFAULTS.flat()[name]
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if value is None:
        return {
            "subset": "all items",
            "data_dir": "$MINIRTC_DATA or ~/.cache/minirtc",
            "chunk_size": "no chunking",
            "factor_ranges": "the whole grid",
        }.get(name, "model's default")
    return str(value)


def _int_list(ctx, param, value):
    if value is None:
        return None
    try:
        widths = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers like 256,256, got {value!r}") from None
    if not widths or min(widths) < 1:
        raise click.BadParameter("every width must be >= 1")
    return widths


def _seed_list(ctx, param, value):
    if value is None:
        return None
    from minirtc.training.seeds import parse_seeds

    try:
        return parse_seeds(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def objective_options() -> list[tuple[str, str, Any, str]]:
    """One flag per field of the core's ObjectiveConfig, its help and choices from the field itself."""
    options = []
    for f in dataclasses.fields(ObjectiveConfig):
        if f.metadata.get("choices"):
            kind = click.Choice(f.metadata["choices"])
        elif "int" in str(f.type):
            kind = click.IntRange(min=1)
        elif "float" in str(f.type):
            kind = click.FloatRange(min=0)
        else:
            kind = str
        options.append(("--" + f.name.replace("_", "-"), f.name, kind, f.metadata.get("help", "")))
    return options


# (flag, setting, click type, help). Defaults come from TrainConfig and its ObjectiveConfig.
OPTIONS = [
    *objective_options(),
    ("--dataset", "dataset", str, "Dataset name (see `minirtc data info`)."),
    (
        "--subset",
        "subset",
        click.IntRange(min=0),
        "Train on at most this many items, drawn with --seed; 0 = all.",
    ),
    ("--data-dir", "data_dir", click.Path(file_okay=False), "Where real data files live."),
    (
        "--range",
        "factor_ranges",
        str,
        "Train on a sub-grid: keep classes LO..HI-1 of factor NAME (repeatable), e.g. --range shape=0:1 "
        "--range scale=5:6 --range orientation=0:1 for dSprites' positions only (docs/data.md).",
    ),
    ("--backend", "backend", click.Choice(list(BACKENDS)), "numpy (autograd, classroom) or torch (scale)."),
    ("--device", "device", click.Choice(DEVICES), "torch device; auto picks cuda when present."),
    ("--arch", "arch", click.Choice(ARCHS), "mlp, or conv (torch only, 64x64 images, docs/training.md)."),
    ("--latent-dim", "latent_dim", click.IntRange(min=1), "Number of latent dimensions D."),
    ("--hidden", "hidden", str, "MLP hidden widths, comma-separated."),
    ("--disc-hidden", "disc_hidden", click.IntRange(min=1), "Discriminator width."),
    ("--disc-layers", "disc_layers", click.IntRange(min=1), "Discriminator hidden layers."),
    ("--dtype", "dtype", click.Choice(DTYPES), "Floating-point precision."),
    ("--steps", "steps", click.IntRange(min=1), "Optimiser steps."),
    ("--batch-size", "batch_size", click.IntRange(min=2), "Batch size M."),
    ("--lr", "lr", click.FloatRange(min=0, min_open=True), "VAE learning rate (Adam)."),
    ("--disc-lr", "disc_lr", click.FloatRange(min=0, min_open=True), "Discriminator learning rate (Adam)."),
    ("--seed", "seed", int, "Seed for every random choice."),
    ("--log-every", "log_every", click.IntRange(min=1), "Steps per history row."),
    ("--eval-every", "eval_every", click.IntRange(min=1), "Steps per TC_mean/TC_sample evaluation."),
    ("--eval-size", "eval_size", click.IntRange(min=2), "Items in the fixed evaluation subset."),
    ("--checkpoint-every", "checkpoint_every", click.IntRange(min=1), "Steps per checkpoint."),
]


def _config_options(fn):
    for flag, field, kind, help_text in reversed(OPTIONS):
        repeated = field == "factor_ranges"  # --range NAME=LO:HI, as in `minirtc data show`
        fn = click.option(
            flag,
            field,
            type=kind,
            default=() if repeated else None,
            multiple=repeated,
            metavar="NAME=LO:HI" if repeated else None,
            callback={"hidden": _int_list, "factor_ranges": parse_ranges}.get(field),
            help=f"{help_text}  [default: {_default(field)}]",
        )(fn)
    return fn


def build_config(
    profile: str, config_file: str | None, resume_dir: Path | None, given: dict[str, Any]
) -> TrainConfig:
    """Profile (with its settings for the model given) < config file (or the resumed run's
    config.json) < flags given."""
    config = profile_config(profile, given.get("model"))
    if config_file is not None:
        config = TrainConfig.from_file(config_file)
    elif resume_dir is not None and (resume_dir / "config.json").exists():
        config = TrainConfig.from_file(resume_dir / "config.json")
    return dataclasses.replace(config, **given)


@click.command("train")
@_config_options
@click.option("--bf16/--no-bf16", default=None, help="bf16 autocast on CUDA (torch).")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="JSON config file; flags override it.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Run directory  [default: runs/<model>-<dataset>-seed<seed>]",
)
@click.option(
    "--profile",
    type=click.Choice(list(PROFILES)),
    default="classroom",
    show_default=True,
    help="Starting settings (docs/training.md#profiles): classroom (NumPy MLP, minutes), lecture "
    "(dSprites' positions, one lecture long), laptop (the laptop sweep's runs), cpu (full dSprites on "
    "2 CPU cores, torch) or paper (torch conv, 300k steps, GPUs).",
)
@click.option(
    "--seeds",
    callback=_seed_list,
    help="Train one run per seed in one process, e.g. 0-9 or 0,3,7 (torch: one batched computation; "
    "numpy: one after another). Run directories: --out/seed<k>, or --out with {seed} in it; "
    "default runs/<model>-<dataset>-seed<k>.",
)
@click.option(
    "--compile",
    "compile_networks",
    is_flag=True,
    help="torch: torch.compile the networks (off by default; trains without it, with a warning, "
    "where compile is unavailable).",
)
@click.option(
    "--log",
    "log",
    multiple=True,
    help="Live logging while training: tensorboard and/or mlflow (repeat the flag or use a comma list); "
    'each needs its extra, e.g. pip install "minirtc[tensorboard]".',
)
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace a run that --out already holds.")
@click.option("--quiet", is_flag=True, help="No progress bar; print only the final lines.")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
def train_command(
    profile,
    config_file,
    out,
    seeds,
    compile_networks,
    log,
    resume,
    overwrite,
    quiet,
    dry_run,
    bf16,
    **options,
):
    """Train a VAE of the total-correlation family and record it in a run directory.

    With no options it trains rtc-vae with the NumPy/autograd backend on a subset of
    the procedural dSprites (no download) in a few minutes on a laptop, then prints
    the run directory, the final ELBO, TC_mean and TC_sample.

    \b
    Examples:
      minirtc train
      minirtc train --model factor-vae --gamma 6 --steps 5000
      minirtc train --backend torch --device cuda --arch conv --dataset dsprites --steps 300000
      minirtc train --out runs/a --resume
      minirtc train --backend torch --seeds 0-9 --out runs/rtc-seeds
    """
    from minirtc.training.loop import RunDirectoryError, TrainingFailed, train

    given = {k: v for k, v in options.items() if v is not None}
    if bf16 is not None:
        given["bf16"] = bf16
    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other")
    if resume and out is None:
        raise click.UsageError("--resume needs --out, the run directory to continue")
    if seeds is not None and "seed" in given:
        raise click.UsageError("--seed and --seeds exclude each other")
    resume_dir = None
    if resume:  # with --seeds, the first member's config.json is the base
        resume_dir = Path(out) if seeds is None else _first_seed_dir(out, seeds)
        from minirtc.training.rundir import require_run

        require_run(resume_dir)  # nothing to resume is an error, never a new run
    try:
        config = build_config(profile, config_file, resume_dir, given).checked()
    except (ConfigError, TypeError) as error:
        raise click.ClickException(str(error)) from None
    from minirtc.training.loggers import check_installed, open_loggers, parse_log_option

    try:
        log = parse_log_option(log)
        check_installed(log)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    if seeds is not None:
        _train_seeds(config, seeds, out, resume, overwrite, quiet, dry_run, compile_networks, log)
        return
    out = Path(out or f"runs/{config.model}-{config.dataset}-seed{config.seed}")
    if dry_run:
        click.echo(json.dumps(config.to_dict(), indent=2))
        return
    loggers = open_loggers(log, out) if log else None  # opened at the first history row
    try:
        summary = train(
            config,
            out,
            resume=resume,
            overwrite=overwrite,
            progress=not quiet,
            compile=compile_networks,
            on_row=loggers,
        )
    except (ConfigError, RunDirectoryError, TrainingFailed, ValueError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from None
    finally:
        if loggers is not None:
            loggers.close()
    data = summary["dataset"]
    click.echo(f"data: {data['name']}, {data['num_items']} items ({data['source']})")
    click.echo(f"run directory: {out}")
    click.echo(
        f"final ELBO: {summary['elbo']:.3f} nats   TC_mean: {summary['tc_mean']:.3f}   "
        f"TC_sample: {summary['tc_sample']:.3f}"
    )


def _first_seed_dir(out: str, seeds: tuple[int, ...]) -> Path:
    from minirtc.training.ensemble import seed_run_dirs

    return seed_run_dirs(out, DEFAULTS, seeds)[0]


def _train_seeds(config, seeds, out, resume, overwrite, quiet, dry_run, compile_networks, log) -> None:
    """--seeds: one call to `train_seeds`, then one line per member."""
    from minirtc.training.ensemble import seed_run_dirs, train_seeds
    from minirtc.training.loggers import SeedLoggers, open_loggers
    from minirtc.training.loop import RunDirectoryError

    outs = seed_run_dirs(out, config, seeds)
    if dry_run:
        click.echo(
            json.dumps({**config.to_dict(), "seeds": list(seeds), "out": [str(o) for o in outs]}, indent=2)
        )
        return
    loggers = SeedLoggers({s: open_loggers(log, o) for s, o in zip(seeds, outs)}) if log else None
    try:
        summaries = train_seeds(
            config,
            seeds,
            outs,
            resume=resume,
            overwrite=overwrite,
            progress=not quiet,
            compile=compile_networks,
            on_row=loggers,
        )
    except (ConfigError, RunDirectoryError, ValueError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from None
    finally:
        if loggers is not None:
            loggers.close()
    failed = [s for s in summaries if s["status"] == "failed"]
    for seed, run_dir, summary in zip(seeds, outs, summaries):
        if summary["status"] == "failed":
            click.echo(f"seed {seed}: {run_dir}  FAILED: {summary['error']}")
        else:
            click.echo(
                f"seed {seed}: {run_dir}  ELBO {summary['elbo']:.3f}  TC_mean {summary['tc_mean']:.3f}  "
                f"TC_sample {summary['tc_sample']:.3f}"
            )
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(seeds)} seeds failed (see above)")


def register(main: click.Group) -> None:
    main.add_command(train_command)
