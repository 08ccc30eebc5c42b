"""The three dSprites shapes from their geometric definitions, and a vectorised rasteriser.

Each shape is a region of the plane in *sprite units*: centroid at the origin,
bounding radius <= 1, area close to 1.6 so that the three look equally big.

- square:  max(|u|, |v|) <= 0.632                          (area 1.60)
- ellipse: u^2 + (v / 0.5)^2 <= 1                          (area 1.57)
- heart:   (x^2 + y^2 - 1)^3 <= x^2 y^3 with x = u / 0.661,
           y = v / 0.661 + 0.2935 (the curve's centroid)   (area 1.60)

A sprite is its shape scaled by `scale * SPRITE_RADIUS * size` pixels, rotated
counter-clockwise (as seen on screen) by `orientation` radians and centred at
`(POSITION_MARGIN + pos * (1 - 2 POSITION_MARGIN)) * size` pixels, posX along the
columns (left to right) and posY along the rows (top to bottom).  A pixel is on
when its centre lies inside the sprite: binary images, as in dSprites.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SHAPE_NAMES = ("square", "ellipse", "heart")
SPRITE_RADIUS = 11 / 64  # sprite unit in image sides at scale 1 (11 px of 64)
POSITION_MARGIN = 12 / 64  # centres range over [margin, 1 - margin] of the image side

SQUARE_HALF_SIDE = 0.632
ELLIPSE_MINOR = 0.5  # semi-minor axis (the major one is 1)
HEART_SCALE = 0.661
HEART_CENTROID_Y = 0.2935  # centroid of the heart curve's region, in its own coordinates


def inside_square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether sprite-unit points (u, v) lie in the square."""
    return np.maximum(np.abs(u), np.abs(v)) <= SQUARE_HALF_SIDE


def inside_ellipse(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether sprite-unit points lie in the ellipse (major axis along u)."""
    v = v * (1.0 / ELLIPSE_MINOR)
    return u * u + v * v <= 1.0


def inside_heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether sprite-unit points lie in the heart (lobes up at orientation 0)."""
    x = u * (1.0 / HEART_SCALE)
    y = v * (1.0 / HEART_SCALE) + HEART_CENTROID_Y
    x2 = x * x
    r = x2 + y * y - 1.0
    return r * r * r <= x2 * y * y * y


SHAPE_TESTS: tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], ...] = (
    inside_square,
    inside_ellipse,
    inside_heart,
)


def sprite_centres(pos: np.ndarray, size: int) -> np.ndarray:
    """Pixel coordinate of sprite centres (B,) for positions in [0, 1] (B,)."""
    return (POSITION_MARGIN + np.asarray(pos, dtype=np.float64) * (1 - 2 * POSITION_MARGIN)) * size


def render_sprites(
    shape: np.ndarray,
    scale: np.ndarray,
    orientation: np.ndarray,
    pos_x: np.ndarray,
    pos_y: np.ndarray,
    size: int = 64,
) -> np.ndarray:
    """Binary uint8 images (B, size, size) of sprites with the given per-item factor values (B,) each.

    `shape` holds indices into SHAPE_NAMES; the others are continuous values.  Only
    a patch around each sprite is evaluated, so the cost is O(B * radius^2).
    """
    shape = np.asarray(shape, dtype=np.int64)
    B = shape.shape[0]
    if B and (shape.min() < 0 or shape.max() >= len(SHAPE_TESTS)):
        raise ValueError(f"shape must be in 0..{len(SHAPE_TESTS) - 1}, got {np.unique(shape)}")
    radius = np.asarray(scale, dtype=np.float64) * SPRITE_RADIUS * size  # (B,) pixels per sprite unit
    P = 2 * int(np.ceil(radius.max(initial=0.0))) + 2  # patch side: covers the bounding circle
    cx, cy = sprite_centres(pos_x, size), sprite_centres(pos_y, size)  # (B,) each
    row0 = np.floor(cy).astype(np.int64) - P // 2  # (B,) patch corner in the image
    col0 = np.floor(cx).astype(np.int64) - P // 2
    centres = np.arange(P) + 0.5  # pixel centres within the patch
    # sprite-unit offsets of the patch's pixel centres; dy points up (rows go down)
    dx = ((col0[:, None] + centres - cx[:, None]) / radius[:, None]).astype(np.float32)  # (B, P)
    dy = ((cy[:, None] - row0[:, None] - centres) / radius[:, None]).astype(np.float32)  # (B, P)
    cos = np.cos(orientation).astype(np.float32)[:, None, None]  # (B, 1, 1)
    sin = np.sin(orientation).astype(np.float32)[:, None, None]
    patch = np.empty((B, P, P), dtype=bool)  # [item, row, col]
    for k, inside in enumerate(SHAPE_TESTS):
        items = np.flatnonzero(shape == k)
        if items.size:
            # rotate the pixel offsets by -orientation: the sprite turns counter-clockwise
            x, y = dx[items, None, :], dy[items, :, None]  # (b, 1, P), (b, P, 1)
            patch[items] = inside(cos[items] * x + sin[items] * y, cos[items] * y - sin[items] * x)
    return paste_patches(patch, row0, col0, size)


def paste_patches(patch: np.ndarray, row0: np.ndarray, col0: np.ndarray, size: int) -> np.ndarray:
    """uint8 images (B, size, size) holding patches (B, P, P) at corners (B,), cropped to the image."""
    B, P, _ = patch.shape
    fits = B == 0 or (min(row0.min(), col0.min()) >= 0 and max(row0.max(), col0.max()) + P <= size)
    pad = 0 if fits else P  # a border of P pixels takes any patch that overlaps the image
    side = size + 2 * pad
    corner = np.arange(B) * side * side + (row0 + pad) * side + (col0 + pad)  # (B,) flat canvas index
    offsets = np.arange(P)[:, None] * side + np.arange(P)[None, :]  # (P, P)
    canvas = np.zeros((B, side, side), dtype=np.uint8)
    canvas.reshape(-1)[corner[:, None, None] + offsets] = patch
    return canvas if fits else np.ascontiguousarray(canvas[:, pad : pad + size, pad : pad + size])
