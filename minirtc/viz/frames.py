"""Labelled image mosaics as uint8 RGB arrays: the frames of the traversal GIFs.

Pillow draws the text (in matplotlib's DejaVu Sans), so a frame is a self-contained picture:
a title, a label per row, images in cells.  Cells are resized to a readable size
(48 to 96 pixels on the long side) so that a GIF of many latents stays small.
"""

from __future__ import annotations

import numpy as np

CELL_MIN, CELL_MAX = 48, 96  # displayed cell size (pixels on the long side)
CELL_SHORT_MIN = 16  # and at least this on the short side (vectors shown as strips)
PAD = 3  # pixels between cells
FONT_SIZE = 12
BACKGROUND = (255, 255, 255)
TEXT = (20, 20, 20)
MUTED = (150, 150, 150)


def to_rgb8(images: np.ndarray) -> np.ndarray:
    """Images (..., H, W, C) in [0, 1] -> uint8 RGB (..., H, W', 3).

    C = 1 is grey, C = 3 is RGB; any other C is shown as its channels side by side in grey.
    """
    x = np.clip(np.asarray(images, dtype=np.float64), 0.0, 1.0)
    C = x.shape[-1]
    if C not in (1, 3):
        *lead, H, W, _ = x.shape
        x = np.moveaxis(x, -1, -2).reshape(*lead, H, W * C, 1)  # (..., H, W C, 1)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return np.round(255 * x).astype(np.uint8)


def cell_size(height: int, width: int) -> tuple[int, int]:
    """Displayed (height, width) of an image cell: nearest-neighbour upscale or downscale into 48..96.

    A strip (a vector shown as a row of pixels) is also upscaled to at least 16 pixels high.
    """
    side = max(height, width)
    if side < CELL_MIN or min(height, width) < CELL_SHORT_MIN:
        factor = max(
            -(-CELL_MIN // side), -(-CELL_SHORT_MIN // min(height, width)), 1
        )  # integer: pixels stay sharp
        return height * factor, width * factor
    if side > CELL_MAX:
        return max(1, round(height * CELL_MAX / side)), max(1, round(width * CELL_MAX / side))
    return height, width


def _font():
    """DejaVu Sans from matplotlib's data (it has the Greek letters and signs of the labels)."""
    from pathlib import Path

    import matplotlib
    from PIL import ImageFont

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), FONT_SIZE)


def text_width(text: str) -> int:
    """Width in pixels of `text` in the frame font."""
    from PIL import Image, ImageDraw

    return int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(text, font=_font()))


def mosaic(
    cells: np.ndarray,
    row_labels: list[str],
    title: list[str],
    column_labels: list[str] | None = None,
    muted_rows: list[bool] | None = None,
    label_width: int | None = None,
) -> np.ndarray:
    """One labelled picture (Hc, Wc, 3) uint8 of cells (R, C, H, W, 3) uint8.

    title: lines above everything; row_labels: one per row, left of it; muted_rows: rows
    whose label is drawn grey (e.g. inactive latents); label_width: fixes the label
    column (so every frame of a GIF has the same size).
    """
    from PIL import Image, ImageDraw

    R, C, H, W, _ = cells.shape
    h, w = cell_size(H, W)
    line = FONT_SIZE + 4
    pitch = max(h, line)  # a row is at least one text line high
    labels_w = label_width if label_width is not None else max(text_width(t) for t in row_labels) + 8
    top = line * len(title) + (line if column_labels else 0) + PAD
    width = max(labels_w + C * (w + PAD) + PAD, max((text_width(t) for t in title), default=0) + 2 * PAD)
    height = top + R * (pitch + PAD) + PAD
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = _font()
    for i, text in enumerate(title):
        draw.text((PAD, PAD + i * line), text, fill=TEXT, font=font)
    for j, text in enumerate(column_labels or []):
        x = labels_w + j * (w + PAD) + w // 2
        draw.text((x, top - PAD - 2), text, fill=TEXT, font=font, anchor="ms")
    for r in range(R):
        y = top + r * (pitch + PAD)
        colour = MUTED if muted_rows and muted_rows[r] else TEXT
        draw.text((labels_w - 6, y + pitch // 2), row_labels[r], fill=colour, font=font, anchor="rm")
        for c in range(C):
            cell = Image.fromarray(cells[r, c]).resize((w, h), Image.NEAREST if w >= W else Image.BILINEAR)
            canvas.paste(cell, (labels_w + c * (w + PAD), y + (pitch - h) // 2))
    return np.asarray(canvas)


def slider(value_index: int, num_values: int) -> str:
    """A text position marker, e.g. "[----|-------]", for frame `value_index` of `num_values`."""
    slots = 15
    at = round(value_index * (slots - 1) / max(num_values - 1, 1))
    return "[" + "-" * at + "|" + "-" * (slots - 1 - at) + "]"


def common_size(pictures: list[np.ndarray]) -> list[np.ndarray]:
    """Pictures (H_i, W_i, 3) padded with background on the right and bottom to one size (GIF frames)."""
    H = max(p.shape[0] for p in pictures)
    W = max(p.shape[1] for p in pictures)
    out = []
    for p in pictures:
        canvas = np.empty((H, W, 3), dtype=np.uint8)
        canvas[:] = BACKGROUND
        canvas[: p.shape[0], : p.shape[1]] = p
        out.append(canvas)
    return out
