"""`minirtc data`: fetch, render, show and list the ground-truth datasets (logic in minirtc.data)."""

from __future__ import annotations

from pathlib import Path

import click

from minirtc import data
from minirtc.data.fetch import REMOTE_FILES

RENDERABLE = ("dsprites", "shapes3d")  # procedural datasets that can be written in the real file's format
DATA_DIR_HELP = "Where data files live  [default: $MINIRTC_DATA or ~/.cache/minirtc]"


def parse_ranges(ctx, param, values):
    """`NAME=LO:HI` options -> {NAME: (LO, HI)} (classes LO..HI-1); None when none was given."""
    ranges = {}
    for value in values:
        try:
            name, bounds = value.split("=")
            lo, hi = (int(v) for v in bounds.split(":"))
        except ValueError:
            raise click.BadParameter(f"expected NAME=LO:HI like posX=0:16, got {value!r}") from None
        ranges[name] = (lo, hi)
    return ranges or None


def _finite(value: float) -> float:
    """click's FloatRange lets NaN through (every comparison with it is false)."""
    if value != value:
        raise click.BadParameter("must be a number, got nan")
    return value


data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None, help=DATA_DIR_HELP
)
range_option = click.option(
    "--range",
    "ranges",
    multiple=True,
    callback=parse_ranges,
    metavar="NAME=LO:HI",
    help="Keep classes LO..HI-1 of factor NAME (repeatable).",
)


@click.group("data")
def data_group() -> None:
    """Ground-truth datasets (docs/data.md): fetch the real files, render procedural ones, look at them."""


@data_group.command("fetch")
@click.argument("name", type=click.Choice(tuple(REMOTE_FILES)))
@data_dir_option
@click.option("--url", default=None, help="Download from this address instead of the official one.")
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 600),
    default=10.0,
    callback=lambda ctx, param, value: _finite(value),
    help="Seconds to wait for the network.",
)
@click.option("--force", is_flag=True, help="Download again even if the file is there.")
def fetch_command(name, data_dir, url, timeout, force):
    """Download NAME's real file (checked, atomic) into the data directory."""
    from minirtc.data.fetch import FetchError, fetch

    try:
        path = fetch(name, data.resolve_data_dir(data_dir), url=url, timeout=timeout, force=force)
    except FetchError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{name}: {path}")


@data_group.command("render")
@click.argument("name", type=click.Choice(RENDERABLE))
@data_dir_option
@click.option(
    "--out", type=click.Path(dir_okay=False), default=None, help="Output file  [default: in --data-dir]"
)
@click.option(
    "--compress/--no-compress", default=True, help="dsprites: deflate the .npz (else memory-mappable)."
)
@range_option
def render_command(name, data_dir, out, compress, ranges):
    """Render NAME-procedural once into a file in the real file's format (.npz / .h5)."""
    from minirtc.data.dsprites import write_dsprites_npz
    from minirtc.data.shapes3d import write_shapes3d_h5

    default = {"dsprites": "dsprites_procedural.npz", "shapes3d": "3dshapes_procedural.h5"}[name]
    out = Path(out) if out else data.resolve_data_dir(data_dir) / default
    try:
        dataset = data.load(f"{name}-procedural", factor_ranges=ranges)
        if name == "dsprites":
            write_dsprites_npz(out, dataset, compress=compress, progress=True)
        else:
            write_shapes3d_h5(out, dataset, progress=True)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{name}-procedural ({len(dataset)} images): {out}")


@data_group.command("show")
@click.argument("name", type=click.Choice(data.DATASETS))
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="PNG file to write.")
@data_dir_option
@click.option("--columns", type=click.IntRange(2, 40), default=8, help="Values shown per factor.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, help="Seed for the factors held fixed.")
@range_option
def show_command(name, out, data_dir, columns, seed, ranges):
    """Save a PNG grid of NAME: one row per factor varied, the others fixed."""
    from minirtc.data.show import save_traversal_png

    try:
        dataset = data.load(name, data_dir=data_dir, factor_ranges=ranges)
        save_traversal_png(dataset, out, columns=columns, seed=seed)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{name}: {out}")


@data_group.command("info")
@data_dir_option
def info_command(data_dir):
    """List the datasets, where their files are expected, and whether they are there."""
    click.echo(f"data directory: {data.resolve_data_dir(data_dir)}")
    for row in data.dataset_info(data_dir):
        if row["path"] is None:
            where = "procedural, no file needed"
        else:
            status = f"present, {row['size_bytes']:,} bytes" if row["present"] else "missing"
            where = f"{row['path']} ({status})"
        click.echo(f"  {row['name']:<20} {row['kind']:<10}  {where}")


def register(main: click.Group) -> None:
    main.add_command(data_group)
