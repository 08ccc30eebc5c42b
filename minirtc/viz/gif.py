"""Animated GIFs and PNGs as bytes (Pillow): the caller writes them atomically.

A traversal GIF plays its K frames forward and back (a "bounce"), so it has
2K - 2 frames and no jump at the loop point.  At 48 to 96 pixel cells and
0.12 s per frame one GIF stays well under a few MB.
"""

from __future__ import annotations

import io

import numpy as np

FRAME_SECONDS = 0.12


def bounce(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Frames 0..K-1 then K-2..1: the sweep goes there and back (2K - 2 frames for K >= 2)."""
    return list(frames) + list(frames[-2:0:-1])


def gif_bytes(frames: list[np.ndarray], seconds_per_frame: float = FRAME_SECONDS) -> bytes:
    """An endlessly looping GIF of uint8 RGB frames (F, H, W, 3), all the same size."""
    from PIL import Image

    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise ValueError(f"GIF frames must share one size, got {sorted(shapes)}")
    pictures = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    buffer = io.BytesIO()
    pictures[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=round(1000 * seconds_per_frame),
        loop=0,
        disposal=1,
    )
    return buffer.getvalue()


def png_bytes(image: np.ndarray) -> bytes:
    """A PNG of one uint8 RGB image (H, W, 3)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
