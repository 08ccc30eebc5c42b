"""A run's training curves from its history rows (history.jsonl): loss, KL terms, TC, active units."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirtc.viz.style import new_figure

PANELS = (  # (title, y label, rows kind, [(key, label), ...])
    ("Objective", "nats / image", "train", [("loss", "loss (minimised)"), ("recon", "-reconstruction")]),
    (
        "KL and its decomposition",
        "nats",
        "train",
        [
            ("kl", "KL"),
            ("mi", "index-code MI"),
            ("tc", "TC (training estimate)"),
            ("dim_kl", "dimension-wise KL"),
        ],
    ),
    (
        "Total correlation",
        "nats",
        "eval",
        [("tc_mean", "TC$_{mean}$"), ("tc_sample", "TC$_{sample}$")],
    ),
    ("Active units", "latents with Var[\u03bc] > 0.01", "eval", [("active_units", "active units")]),
)
SIGN = {"recon": -1.0}  # -reconstruction is positive nats, on the loss's scale


def series(rows: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of `key` over the rows that have it (None as NaN)."""
    steps = np.array([r["step"] for r in rows if key in r], dtype=np.int64)
    values = np.array([np.nan if r[key] is None else r[key] for r in rows if key in r], dtype=float)
    return steps, values


def _late_limits(values: list[np.ndarray], steps: list[np.ndarray], last: int) -> tuple[float, float] | None:
    """y limits that leave out the first 10% of training (the first rows are far off the scale)."""
    late = [v[(s >= 0.1 * last) & np.isfinite(v)] for s, v in zip(steps, values)]
    late = np.concatenate(late) if late else np.zeros(0)
    if not len(late):
        return None
    low, high = float(late.min()), float(late.max())
    margin = 0.08 * max(high - low, 1e-3 * max(abs(high), 1.0))
    return low - margin, high + margin


def training_curves(rows: list[dict[str, Any]], title: str):
    """Four panels over training steps; the TC panel also shows the training estimate for comparison."""
    train = [r for r in rows if r.get("kind") == "train"]
    evals = [r for r in rows if r.get("kind") == "eval"]
    last = max((r["step"] for r in rows), default=1)
    fig = new_figure(9.0, 5.2)
    axes = fig.subplots(2, 2).ravel()
    for ax, (panel, ylabel, kind, keys) in zip(axes, PANELS):
        source = train if kind == "train" else evals
        plotted_steps, plotted_values = [], []
        for key, label in keys:
            steps, values = series(source, key)
            if len(steps):
                values = SIGN.get(key, 1.0) * values
                ax.plot(steps, values, lw=1.2, label=label, marker="o" if len(steps) < 12 else None, ms=3)
                plotted_steps.append(steps)
                plotted_values.append(values)
        if panel == "Total correlation":
            steps, values = series(train, "tc")
            if len(steps):
                ax.plot(steps, values, lw=0.8, color="0.6", label="TC (training estimate)")
        limits = _late_limits(plotted_values, plotted_steps, last) if kind == "train" else None
        if limits is not None:
            ax.set_ylim(*limits)
        ax.set_title(panel + (" (y axis: after the first 10% of steps)" if limits else ""), fontsize=8)
        ax.set_xlim(0, last * 1.02)  # every panel on the same step axis
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(frameon=False, fontsize=6.5)
        else:
            ax.text(
                0.5, 0.5, "not in the history", ha="center", va="center", color="0.4", transform=ax.transAxes
            )
    from matplotlib.ticker import MaxNLocator

    axes[3].yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[3].set_ylim(bottom=0, top=max(axes[3].get_ylim()[1], 1) + 0.5)
    fig.suptitle(title, fontsize=9)
    return fig
