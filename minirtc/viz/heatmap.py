"""The latent-factor mutual-information matrix that MIG is computed from, as a heat map."""

from __future__ import annotations

import numpy as np

from minirtc.viz.style import new_figure, wrap


def mi_heatmap(mi: np.ndarray, entropy: np.ndarray, factor_names: list[str], title: str):
    """Heat map of I(z_d; y_k) / H(y_k) (D, K), each cell annotated with the MI in nats.

    mi: (D, K) nats; entropy: (K,) nats (a constant factor, H = 0, is shown as 0).
    Normalising by H(y_k) puts every factor on the 0..1 scale MIG uses.
    """
    D, K = mi.shape
    normalised = np.divide(mi, entropy, out=np.zeros_like(mi), where=entropy > 0)  # (D, K)
    fig = new_figure(1.6 + 0.75 * K, 1.2 + 0.32 * D)
    ax = fig.subplots()
    image = ax.imshow(normalised, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(np.arange(K), factor_names, rotation=30, ha="right")
    ax.set_yticks(np.arange(D), [f"z{d + 1}" for d in range(D)])
    for d in range(D):
        for k in range(K):
            colour = "white" if normalised[d, k] < 0.6 else "black"
            ax.text(k, d, f"{mi[d, k]:.2f}", ha="center", va="center", fontsize=6, color=colour)
    fig.colorbar(image, ax=ax, label="colour: I(z; factor) / H(factor); numbers: I in nats")
    ax.set_title(wrap(title, int(fig.get_figwidth() * 72 / (0.55 * 8))), fontsize=8)
    return fig
