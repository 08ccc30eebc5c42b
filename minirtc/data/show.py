"""Look at a dataset: a PNG grid with one row per factor, that factor swept, the others fixed.

Each row starts from the same base factor vector (drawn from `seed`) and sets
its factor to `columns` values spread evenly over the factor's classes; rows of
factors with fewer classes end early.  Images come from
`sample_observations_from_factors`, so a subset shows its full grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from minirtc.data.base import GroundTruthDataset, to_unit_float
from minirtc.data.files import atomic_path


def traversal_factors(dataset: GroundTruthDataset, columns: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Factor vectors (K, columns, K) of the traversal grid and which cells are used (K, columns)."""
    base = dataset.sample_factors(1, np.random.default_rng(seed))[0]  # (K,)
    K = dataset.num_factors
    factors = np.broadcast_to(base, (K, columns, K)).copy()
    used = np.zeros((K, columns), dtype=bool)
    for k, size in enumerate(dataset.factor_sizes):
        values = np.unique(np.round(np.linspace(0, size - 1, columns)).astype(np.int64))  # (<= columns,)
        factors[k, : len(values), k] = values
        used[k, : len(values)] = True
    return factors, used


def traversal_grid(
    dataset: GroundTruthDataset, columns: int = 8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Images (K, columns, H, W, C) as floats in [0, 1] (unused cells 0) and the used mask (K, columns)."""
    factors, used = traversal_factors(dataset, columns, seed)
    K = dataset.num_factors
    images = dataset.sample_observations_from_factors(factors.reshape(-1, K), np.random.default_rng(seed))
    grid = to_unit_float(images, dataset.pixel_max).reshape(K, columns, *dataset.image_shape)
    grid[~used] = 0.0
    return grid, used


def save_traversal_png(dataset: GroundTruthDataset, out: str | Path, columns: int = 8, seed: int = 0) -> Path:
    """Write the traversal grid of `dataset` as a PNG with factor names on the rows; atomic."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    grid, used = traversal_grid(dataset, columns, seed)
    K = dataset.num_factors
    H, W, C = dataset.image_shape
    height = max(H / (W * (1 if C == 3 else C)), 0.2)  # cell height per unit width; toy vectors as strips
    fig = Figure(figsize=(columns + 1.4, K * height * 1.08 + 0.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(K, columns, squeeze=False)
    fig.subplots_adjust(
        left=1.3 / (columns + 1.4), right=0.99, bottom=0.02, top=1 - 0.45 / fig.get_figheight()
    )
    fig.subplots_adjust(wspace=0.06, hspace=0.08)
    for k in range(K):
        for j in range(columns):
            ax = axes[k, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if not used[k, j]:
                ax.axis("off")
                continue
            image = grid[k, j] if C == 3 else grid[k, j].reshape(H, W * C)  # other C: channels side by side
            ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
        axes[k, 0].set_ylabel(dataset.factor_names[k], rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(f"{dataset.name}: one factor varied per row (seed {seed})", fontsize=10)
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    return out
