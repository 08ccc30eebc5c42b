"""Still image grids (matplotlib): traversal grids for papers, reconstructions beside inputs."""

from __future__ import annotations

import numpy as np

from minirtc.viz.style import new_figure, suptitle


def as_picture(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """(H, W, C) in [0, 1] -> something imshow draws: RGB as is, else channels side by side in grey."""
    H, W, C = image.shape
    if C == 3:
        return np.clip(image, 0, 1), None
    return image.transpose(0, 2, 1).reshape(H, W * C) if C > 1 else image[..., 0], "gray"


def image_grid(
    images: np.ndarray,
    row_labels: list[str],
    column_labels: list[str] | None,
    title: str,
    muted_rows: list[bool] | None = None,
):
    """A grid of images (R, K, H, W, C) in [0, 1] with a label per row (and optionally per column).

    muted_rows: rows whose label is drawn grey (e.g. inactive latents).
    """
    R, K, H, W, C = images.shape
    cell_h = 0.7 * min(H / (W * (C if C != 3 else 1)), 1.0)
    width, cells = 1.3 + 0.7 * K, max(cell_h, 0.2) * R * 1.08  # inches
    fig = new_figure(width, cells + 1.0, layout=None)
    axes = fig.subplots(R, K, squeeze=False)
    top = suptitle(fig, title, fontsize=9) + (0.3 if column_labels is not None else 0.1)  # inches
    height = cells + top + 0.05
    fig.set_figheight(height)
    fig.subplots_adjust(
        left=1.25 / width, right=0.99, bottom=0.05 / height, top=1 - top / height, wspace=0.05, hspace=0.08
    )
    for i in range(R):
        for j in range(K):
            picture, cmap = as_picture(images[i, j])
            axes[i, j].imshow(picture, cmap=cmap, vmin=0, vmax=1, aspect="auto", interpolation="nearest")
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if column_labels is not None and i == 0:
                axes[i, j].set_title(column_labels[j], fontsize=7)
        colour = "0.55" if muted_rows and muted_rows[i] else "black"
        axes[i, 0].set_ylabel(row_labels[i], rotation=0, ha="right", va="center", fontsize=7, color=colour)
    return fig


def traversal_grid(
    reference: np.ndarray,
    frames: np.ndarray,
    row_labels: list[str],
    column_labels: list[str],
    title: str,
    muted_rows: list[bool] | None = None,
):
    """One reference item's traversals: its input, then each latent's K frames, one row per latent.

    reference: (H, W, C); frames: (D, K, H, W, C) in the row order of `row_labels`.
    """
    D = frames.shape[0]
    inputs = np.broadcast_to(reference, (D, 1, *reference.shape))  # (D, 1, H, W, C)
    grid = np.concatenate([inputs, frames], axis=1)  # (D, 1 + K, H, W, C)
    return image_grid(grid, row_labels, ["input", *column_labels], title, muted_rows)


def reconstruction_grid(inputs: np.ndarray, reconstructions: list[np.ndarray], labels: list[str], title: str):
    """Inputs (N, H, W, C) in the top row, each model's reconstructions (N, H, W, C) below it."""
    grid = np.stack([inputs, *reconstructions])  # (1 + models, N, H, W, C)
    return image_grid(grid, ["input", *labels], None, title)
