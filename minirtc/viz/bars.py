"""The KL of each latent as a bar chart: which latents carry information, which are inactive."""

from __future__ import annotations

import numpy as np

from minirtc.viz.style import new_figure, wrap


def kl_bars(kl: np.ndarray, active: np.ndarray, title: str):
    """Bars of KL(q(z_d|x) || p(z_d)) per latent (D,) nats, inactive latents grey and marked."""
    D = len(kl)
    fig = new_figure(max(3.2, 0.35 * D + 1.2), 2.6)
    ax = fig.subplots()
    colours = np.where(active, "#1f77b4", "#b0b0b0")
    x = np.arange(D)
    ax.bar(x, kl, color=colours)
    ax.set_xticks(x, [f"z{d + 1}" for d in range(D)])
    for d in np.flatnonzero(~active):
        ax.annotate(
            "inactive",
            (d, kl[d]),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=6,
            rotation=90,
            color="0.4",
        )
    ax.set_ylabel("KL per latent (nats)")
    ax.set_xlabel("latent (grey: inactive, Var[\u03bc] \u2264 0.01)")
    ax.set_ylim(0, max(float(np.max(kl)) * 1.15, 0.1))
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(wrap(title, int(fig.get_figwidth() * 72 / (0.55 * 8))), fontsize=8)
    return fig
