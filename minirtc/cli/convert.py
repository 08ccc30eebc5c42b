"""`minirtc convert-pickle RUN_DIR`: turn an old pickle checkpoint into a safe one, once."""

from __future__ import annotations

import click

WARNING = (
    "convert-pickle reads {path}, a pickle. It builds only arrays, numbers and containers and refuses "
    "anything else (a pickle can carry code), but convert only runs you made or trust."
)


@click.command("convert-pickle")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--trust", is_flag=True, help="I trust this file: convert without asking.")
def convert_pickle_command(run_dir, trust):
    """Rewrite RUN_DIR/checkpoint.pkl (minirtc 0.1) in the safe checkpoint format.

    The pickle is read ONCE, here, and kept as checkpoint.pkl.converted; every other
    command reads only the new safetensors + JSON checkpoint.
    """
    from pathlib import Path

    from minirtc.training.convert import convert_pickle

    click.echo("WARNING: " + WARNING.format(path=Path(run_dir) / "checkpoint.pkl"), err=True)
    if not trust and not click.confirm("Convert it?", default=False, err=True):
        raise click.ClickException("not converted (pass --trust to convert without asking)")
    record = convert_pickle(run_dir)
    click.echo(f"wrote {record}; `minirtc evaluate {run_dir}` and `--resume` now read it")


def register(main: click.Group) -> None:
    main.add_command(convert_pickle_command)
