"""Shared figure style for the experiments and examples: names, colours, saving.

One place decides how an estimator is called and coloured in every figure, the
font sizes that stay readable at paper size, and how a figure reaches disk
(atomically, as PNG).  Plotting only: nothing here computes a result.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402

from minirtc.training.records import atomic_write_bytes  # noqa: E402

LABELS = {
    "mws": "MWS (as published)",
    "mws-noconst": "MWS (no constants)",
    "mss0": "MSS$_0$ (Chen et al. code)",
    "mss1": "MSS$_1$ (paper)",
    "discriminator": "discriminator TC$_D$",
    "population": "population TC (closed form)",
    "exact": "exact finite-dataset TC",
}
COLOURS = {
    "mws": "tab:red",
    "mws-noconst": "tab:orange",
    "mss0": "tab:blue",
    "mss1": "tab:green",
    "discriminator": "tab:purple",
    "population": "black",
    "exact": "tab:gray",
}
STYLE = {
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
    "savefig.dpi": 150,
}


def new_figure(rows: int, cols: int, width: float, height: float, **kwargs):
    """A figure and its (rows, cols) axes array in the shared style (constrained layout: no overlaps)."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            rows, cols, figsize=(width, height), squeeze=False, layout="constrained", **kwargs
        )
    return fig, axes


def save_figure(fig, path: str | Path) -> Path:
    """Render `fig` to PNG and write it atomically to `path`; close the figure."""
    buffer = io.BytesIO()
    with plt.rc_context(STYLE):
        fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def identity_line(ax, low: float, high: float) -> None:
    """The dashed y = x line over [low, high]: where a perfect estimator's points lie."""
    ax.plot([low, high], [low, high], ls="--", color="0.4", lw=1, label="identity (estimate = reference)")


def symlog_errors(ax, linthresh: float = 1.0) -> None:
    """Errors span -100..+100 nats (MWS's constants) and +-0.1 (MSS): linear near 0, log beyond."""
    ax.set_yscale("symlog", linthresh=linthresh)
    ax.axhline(0.0, color="0.3", lw=0.8)
