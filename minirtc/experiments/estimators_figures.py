"""E1's figures, drawn from the CSV rows of `minirtc.experiments.estimators` (paper Fig. 1).

- estimates against each reference, with the identity line (one panel per estimator);
- the error (estimate - reference) against D, with bands over rho and repeats;
- the error against the batch size M at the summary dimension.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from minirtc.experiments.estimators import ESTIMATORS, REFERENCES, errors
from minirtc.experiments.figures import COLOURS, LABELS, identity_line, new_figure, symlog_errors

SIGMA_MARKERS = ("o", "s", "^", "D", "v", "P")
REFERENCE_AXIS = {"population": "population TC (closed form), nats", "exact": "exact finite-dataset TC, nats"}


def _present(rows: Sequence[dict]) -> list[str]:
    """The estimators that have numbers (the discriminator may have been skipped)."""
    return [e for e in ESTIMATORS if any(np.isfinite(r[f"tc_{e}"]) for r in rows)]


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def plot_estimates_vs_truth(rows: Sequence[dict], batch_size: int):
    """Rows: reference; columns: estimator; one point per (D, rho, sigma), mean +- std over repeats."""
    rows = [r for r in rows if r["batch_size"] == batch_size]
    estimators, sigmas = _present(rows), sorted({r["sigma"] for r in rows})
    dims = sorted({r["latent_dim"] for r in rows})
    norm = plt.Normalize(min(dims), max(dims))
    cmap = plt.get_cmap("viridis")
    fig, axes = new_figure(len(REFERENCES), len(estimators), 3.1 * len(estimators), 6.4)
    settings = sorted({(r["latent_dim"], r["rho"], r["sigma"]) for r in rows})
    for row, reference in enumerate(REFERENCES):
        for col, estimator in enumerate(estimators):
            ax = axes[row, col]
            xs, ys = [], []
            for D, rho, sigma in settings:
                group = [r for r in rows if (r["latent_dim"], r["rho"], r["sigma"]) == (D, rho, sigma)]
                x, x_err = _mean_std([r[f"tc_{reference}"] for r in group])
                y, y_err = _mean_std([r[f"tc_{estimator}"] for r in group])
                marker = SIGMA_MARKERS[sigmas.index(sigma) % len(SIGMA_MARKERS)]
                ax.errorbar(
                    x,
                    y,
                    xerr=x_err,
                    yerr=y_err,
                    fmt=marker,
                    ms=4,
                    color=cmap(norm(D)),
                    elinewidth=0.8,
                    alpha=0.85,
                )
                xs.append(x)
                ys.append(y)
            low, high = min(xs + ys), max(xs + ys)
            identity_line(ax, low, high)
            ax.set_xlabel(REFERENCE_AXIS[reference])
            if col == 0:
                ax.set_ylabel("estimated TC, nats")
            ax.set_title(LABELS[estimator])
    handles = [
        plt.Line2D(
            [],
            [],
            ls="",
            marker=SIGMA_MARKERS[i % len(SIGMA_MARKERS)],
            color="0.3",
            label=f"$\\sigma$ = {s:g}",
        )
        for i, s in enumerate(sigmas)
    ]
    handles.append(plt.Line2D([], [], ls="--", color="0.4", label="identity"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)
    colourbar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, shrink=0.8, pad=0.01)
    colourbar.set_label("latent dimension D")
    fig.suptitle(
        f"E1: TC estimates vs both references (M = {batch_size}, N = {rows[0]['dataset_size']}; "
        "mean $\\pm$ std over repeats)"
    )
    return fig


def plot_error_vs_dim(rows: Sequence[dict], batch_size: int):
    """Rows: reference; columns: sigma; error vs D per estimator, band = +-1 std over rho and repeats."""
    title = (
        f"E1: estimator error vs latent dimension (M = {batch_size})\nbands: $\\pm$1 std over rho and repeats"
    )
    chosen = [r for r in rows if r["batch_size"] == batch_size]
    return _plot_errors(chosen, "latent_dim", "latent dimension D", title, log_x=False)


def plot_error_vs_batch(rows: Sequence[dict], latent_dim: int):
    """Rows: reference; columns: sigma; error vs batch size M at one D, band = +-1 std."""
    title = f"E1: estimator error vs batch size at D = {latent_dim}\nbands: $\\pm$1 std over rho and repeats"
    chosen = [r for r in rows if r["latent_dim"] == latent_dim]
    return _plot_errors(chosen, "batch_size", "batch size M", title, log_x=True)


def _plot_errors(rows: Sequence[dict], x_key: str, x_label: str, title: str, log_x: bool):
    """The error (estimate - reference) of every estimator against rows' `x_key`, per reference and sigma."""
    sigmas, xs = sorted({r["sigma"] for r in rows}), sorted({r[x_key] for r in rows})
    fig, axes = new_figure(len(REFERENCES), len(sigmas), max(3.6 * len(sigmas), 9.0), 6.6, sharex=True)
    for row, reference in enumerate(REFERENCES):
        for col, sigma in enumerate(sigmas):
            ax = axes[row, col]
            for estimator in _present(rows):
                groups = [[r for r in rows if r["sigma"] == sigma and r[x_key] == x] for x in xs]
                mean, std = np.array([_mean_std(errors(g, estimator, reference)) for g in groups]).T
                ax.plot(xs, mean, marker="o", ms=3, color=COLOURS[estimator], label=LABELS[estimator])
                ax.fill_between(xs, mean - std, mean + std, color=COLOURS[estimator], alpha=0.2, lw=0)
            if log_x:
                ax.set_xscale("log", base=2)
            symlog_errors(ax)
            ax.set_title(f"$\\sigma$ = {sigma:g}, vs {LABELS[reference]}")
            if row == len(REFERENCES) - 1:
                ax.set_xlabel(x_label)
            if col == 0:
                ax.set_ylabel("estimate $-$ reference, nats (symlog)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False)
    fig.suptitle(title)
    return fig
