"""The `minirtc` command line: a thin click layer over the library.

Each command group lives in its own module and holds no logic of its own.
"""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="minirtc")
def main() -> None:
    """minirtc: RTC-VAE and total-correlation VAEs, from classroom to cluster."""


def _register() -> None:
    """Attach the command modules that exist (each defines `register(main)`)."""
    import importlib

    for module in ("train", "evaluate", "data", "experiment", "sweep", "show"):
        try:
            mod = importlib.import_module(f"minirtc.cli.{module}")
        except ModuleNotFoundError as error:
            if error.name != f"minirtc.cli.{module}":
                raise
            continue
        mod.register(main)


_register()
