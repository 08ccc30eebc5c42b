"""E2's figures, drawn from `minirtc.experiments.theorem1` results (paper Fig. 2, Theorem 1).

- theorem1.png: (a) closed forms: TC(mu) without bound, TC(z) under its bound, as rho -> 1;
  (b) Monte Carlo TC(z) for eq. (1)'s varying sigma'(mu) and for a constant width.
- theorem1_shutdown.png: (a) the Fig. 2 case: means on a line, samples filling the plane;
  (b) how each estimate and each reference changes when a dimension shuts down.
"""

from __future__ import annotations

import numpy as np

from minirtc.experiments.figures import COLOURS, LABELS, new_figure
from minirtc.experiments.synthetic import equicorrelation_tc
from minirtc.experiments.theorem1 import SHUTDOWN_CASES, SHUTDOWN_ESTIMATORS, Theorem1Config, Theorem1Results

WIDTH_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")


def _gap(rho):
    """1 - rho on the x axis, with rho = 0 drawn at 1."""
    return np.maximum(1.0 - np.asarray(rho, dtype=np.float64), 1e-300)


def plot_theorem1(results: Theorem1Results, config: Theorem1Config):
    fig, axes = new_figure(1, 2, 10.5, 4.2)
    ax = axes[0, 0]
    cf = results.closed_form
    widths = sorted({r["c"] for r in cf})
    first = [r for r in cf if r["c"] == widths[0]]
    ax.plot(
        _gap([r["rho"] for r in first]), [r["tc_mu"] for r in first], color="black", lw=2, label="TC($\\mu$)"
    )
    for i, c in enumerate(widths):
        chosen = [r for r in cf if r["c"] == c]
        colour = WIDTH_COLOURS[i % len(WIDTH_COLOURS)]
        ax.plot(
            _gap([r["rho"] for r in chosen]),
            [r["tc_z"] for r in chosen],
            color=colour,
            label=f"TC(z), c = {c:g}",
        )
        ax.axhline(chosen[0]["bound"], color=colour, ls="--", lw=1)
    ax.plot([], [], color="0.3", ls="--", lw=1, label="bound $\\frac{D}{2}\\log\\frac{1+c^2}{c^2}$")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("1 $-$ $\\rho$  (equicorrelation of $\\mu$; $\\rho \\to 1$ to the right)")
    ax.set_ylabel("total correlation, nats")
    ax.set_title(
        f"(a) closed form, D = {config.latent_dim}:\n"
        "$\\mu \\sim N(0, S_\\rho)$, $z|\\mu \\sim N(\\mu, c^2 I)$"
    )
    ax.legend(loc="upper left")

    ax = axes[0, 1]
    mc = results.monte_carlo
    rhos = sorted({r["rho"] for r in mc})
    constant = [next(r for r in mc if r["rho"] == rho and r["width"] == "constant c") for rho in rhos]
    dense = 1.0 - np.logspace(0, np.log10(max(_gap(rhos).min(), 1e-12)), 60)
    dense = np.where(dense < 0, 0.0, dense)
    c = config.mc_width
    ax.plot(
        _gap(dense),
        [equicorrelation_tc(config.mc_dim, r) for r in dense],
        color="black",
        lw=2,
        label="TC($\\mu$)",
    )
    ax.plot(
        _gap(dense), [equicorrelation_tc(config.mc_dim, r, c * c) for r in dense], color="tab:blue",
        label=f"TC(z), constant c = {c:g} (closed form)",
    )  # fmt: skip
    for kind, colour, marker in (("constant c", "tab:blue", "o"), ("eq. (1) sigma'(mu)", "tab:red", "s")):
        stats = [
            [r["tc_z_monte_carlo"] for r in mc if r["rho"] == rho and r["width"] == kind] for rho in rhos
        ]
        mean = [np.mean(s) for s in stats]
        std = [np.std(s, ddof=1) if len(s) > 1 else 0.0 for s in stats]
        label = (
            "TC(z), constant c (Monte Carlo)"
            if kind == "constant c"
            else "TC(z), $\\sigma'(\\mu)$ of eq. (1) (Monte Carlo)"
        )
        ax.errorbar(_gap(rhos), mean, yerr=std, fmt=marker, color=colour, capsize=3, ms=5, label=label)
    ax.axhline(constant[0]["bound_constant_c"], color="tab:blue", ls="--", lw=1, label=f"bound for c = {c:g}")
    ax.set_xscale("log")
    ax.invert_xaxis()
    low, high = ax.get_ylim()
    ax.set_ylim(min(-0.2, low), 1.3 * high)  # room above the curves for the legend
    ax.set_xlabel("1 $-$ $\\rho$  ($\\rho \\to 1$ to the right)")
    ax.set_ylabel("total correlation, nats")
    ax.set_title(
        f"(b) Monte Carlo, D = {config.mc_dim}, c = {c:g}, R = {config.mc_radius:g}:\n"
        "$\\sigma'_j(\\mu) = c\\,(1 + \\frac{1}{2}\\tanh\\mu_j)\\,\\min(1, (R/|\\mu|)^l)$, "
        f"l = {config.mc_power:g}"
    )
    ax.legend(loc="upper left")
    fig.suptitle("E2 / Theorem 1: TC of the means grows without bound, TC of the samples stays bounded")
    return fig


def plot_shutdown(results: Theorem1Results, config: Theorem1Config):
    fig, axes = new_figure(1, 2, 13.0, 4.6, width_ratios=[1, 2.0])
    ax = axes[0, 0]
    z, mu = results.fig2["z"], results.fig2["mu"]
    ax.scatter(z[:, 0], z[:, 1], s=3, alpha=0.3, color="tab:blue", label="samples z (TC small)")
    ax.scatter(mu[:, 0], mu[:, 1], s=3, alpha=0.6, color="black", label="means $\\mu$ (TC = $\\infty$)")
    ax.set_xlabel("dimension 1")
    ax.set_ylabel("dimension 0 (shut down)")
    ax.set_title("(a) Fig. 2 case: $\\mu_0 = -0.1\\,\\mu_1$, $\\sigma_0 = 1$")
    ax.legend(loc="upper right", markerscale=3)

    ax = axes[0, 1]
    rows = results.shutdown
    base = {r["repeat"]: r for r in rows if r["case"] == "all active"}
    cases = [c for c in SHUTDOWN_CASES[1:] if any(r["case"] == c for r in rows)]
    bars = ["population", "exact", *[e for e in SHUTDOWN_ESTIMATORS if np.isfinite(rows[0][f"tc_{e}"])]]
    width = 0.8 / len(bars)
    for b, key in enumerate(bars):
        means, stds = [], []
        for case in cases:
            change = [r[f"tc_{key}"] - base[r["repeat"]][f"tc_{key}"] for r in rows if r["case"] == case]
            means.append(np.mean(change))
            stds.append(np.std(change, ddof=1) if len(change) > 1 else 0.0)
        x = np.arange(len(cases)) + (b - (len(bars) - 1) / 2) * width
        hatch = "//" if key in ("population", "exact") else None
        ax.bar(x, means, width, yerr=stds, capsize=2, color=COLOURS[key], hatch=hatch, label=LABELS[key],
               edgecolor="white" if hatch else None)  # fmt: skip
        ax.plot(
            x, means, ls="", marker="_", ms=9, mew=2, color=COLOURS[key]
        )  # a zero-height bar stays visible
    ax.axhline(0.0, color="0.3", lw=0.8)
    ax.set_xticks(np.arange(len(cases)), [c.replace(" and ", " and\n") for c in cases])
    ax.set_ylabel("change in TC vs all dimensions active, nats")
    ax.set_title(
        f"(b) D = {config.shutdown_dim}, active widths $\\sigma$ = {config.shutdown_sigma:g}, "
        f"N = {config.shutdown_dataset_size}, M = {config.shutdown_batch_size}\n"
        "change of each estimate and reference (mean $\\pm$ std over paired repeats)"
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.suptitle("E2: a shut-down dimension — what the estimators report against both references")
    return fig
