"""A small ray-cast scene for the procedural Shapes3D: an object in the corner of a room.

World coordinates, y up.  The floor is the plane y = 0, the two walls are the
planes x = -ROOM and z = -ROOM; the object stands on the floor at the origin.
A pinhole camera looks at (0, TARGET_Y, 0) from azimuth 45 deg + orientation, so
orientation turns the view of both room and object (as in Shapes3D).  Lighting:
one directional light with Lambert shading, an ambient term, and the object's
shadow on floor and walls.

Colour enters only at the end: a scene's geometry (scale, shape, orientation) is
rendered once into per-region *shaded coverage* W (3, H, W): for region r (floor,
wall, object), the mean over a pixel's sub-samples of shade * [sample hits r].
An image is then sum_r W_r * rgb(hue_r), so hue changes touch only their region.
"""

from __future__ import annotations

import numpy as np

SHAPE_NAMES = ("cube", "cylinder", "sphere", "capsule")
REGIONS = ("floor", "wall", "object")
ROOM = 3.5  # distance from the object to each wall
TARGET_Y = 1.0  # height the camera looks at
CAMERA_DISTANCE = 9.0
CAMERA_ELEVATION = np.deg2rad(22.0)
FIELD_OF_VIEW = np.deg2rad(40.0)
LIGHT = tuple(
    float(c) for c in np.array([0.6, 1.0, 0.3]) / np.linalg.norm([0.6, 1.0, 0.3])
)  # towards the light
AMBIENT = 0.3
MISS = np.inf

# Vectors are (x, y, z) tuples of arrays that broadcast to (G, R): G scenes, R rays each.
Vec = tuple[np.ndarray, np.ndarray, np.ndarray]
Hit = tuple[np.ndarray, Vec]  # distance t along the ray (MISS if none) and the unit normal there


def dot(a: Vec, b: Vec) -> np.ndarray:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def along(o: Vec, d: Vec, t: np.ndarray) -> Vec:
    """Points o + t d, with missed rays (t = MISS) placed at o."""
    t = np.where(np.isfinite(t), t, 0.0)
    return (o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2])


def camera_rays(orientation_deg: np.ndarray, size: int, supersample: int) -> tuple[Vec, Vec]:
    """Camera origins (G, 1) and unit ray directions (G, R), R = (size * s)^2 in row-major order."""
    azimuth = np.deg2rad(45.0 + np.asarray(orientation_deg, dtype=np.float64))[:, None, None]  # (G, 1, 1)
    ce, se = np.cos(CAMERA_ELEVATION), np.sin(CAMERA_ELEVATION)
    offset = CAMERA_DISTANCE * np.concatenate(
        [ce * np.cos(azimuth), np.full_like(azimuth, se), ce * np.sin(azimuth)], axis=-1
    )  # (G, 1, 3) camera minus target
    forward = -offset / CAMERA_DISTANCE
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    up = np.cross(right, forward)
    n = size * supersample
    ndc = ((np.arange(n) + 0.5) / n * 2 - 1) * np.tan(FIELD_OF_VIEW / 2)  # (n,) image-plane coordinates
    d = (
        forward[:, :, None]
        + ndc[None, None, :, None] * right[:, :, None]
        - ndc[None, :, None, None] * up[:, :, None]
    )
    d = (d / np.linalg.norm(d, axis=-1, keepdims=True)).reshape(len(azimuth), n * n, 3)  # rows go down
    origin = offset[:, 0] + [0.0, TARGET_Y, 0.0]  # (G, 3)
    d, origin = d.astype(np.float32), origin.astype(np.float32)  # float32 halves the cost; ample for 64 px
    return tuple(origin[:, i : i + 1] for i in range(3)), tuple(d[..., i] for i in range(3))


def hit_plane(o: Vec, d: Vec, axis: int, value: float) -> np.ndarray:
    """Distance t along rays o + t d to the plane x_axis = value; MISS if behind or parallel."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (value - o[axis]) / d[axis]
    return np.where(t > 1e-9, t, MISS)


def hit_sphere(o: Vec, d: Vec, centre_y: np.ndarray, r: np.ndarray) -> Hit:
    """Nearest hit with spheres of radius r centred at (0, centre_y, 0)."""
    oc = (o[0], o[1] - centre_y, o[2])
    b = dot(oc, d)
    disc = b * b - (dot(oc, oc) - r * r)
    t = -b - np.sqrt(np.maximum(disc, 0.0))
    t = np.where((disc >= 0) & (t > 1e-9), t, MISS)
    p = along(o, d, t)
    return t, (p[0] / r, (p[1] - centre_y) / r, p[2] / r)


def hit_cylinder_side(o: Vec, d: Vec, r: np.ndarray, y0: np.ndarray, y1: np.ndarray) -> Hit:
    """Nearest hit with the side of the vertical cylinder x^2 + z^2 = r^2, y0 <= y <= y1."""
    a = d[0] * d[0] + d[2] * d[2]
    b = o[0] * d[0] + o[2] * d[2]
    disc = b * b - a * (o[0] * o[0] + o[2] * o[2] - r * r)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
    y = o[1] + t * d[1]
    t = np.where((disc >= 0) & (a > 1e-12) & (t > 1e-9) & (y >= y0) & (y <= y1), t, MISS)
    p = along(o, d, t)
    return t, (p[0] / r, np.zeros_like(t), p[2] / r)


def hit_disc_top(o: Vec, d: Vec, r: np.ndarray, y: np.ndarray) -> Hit:
    """Nearest hit with the upward-facing disc x^2 + z^2 <= r^2 at height y."""
    t = hit_plane(o, d, 1, y)
    p = along(o, d, t)
    t = np.where(p[0] * p[0] + p[2] * p[2] <= r * r, t, MISS)
    return t, (np.zeros_like(t), np.ones_like(t), np.zeros_like(t))


def hit_box(o: Vec, d: Vec, lo: Vec, hi: Vec) -> Hit:
    """Nearest hit with the axis-aligned box [lo, hi] (slab method); the normal is the face entered last."""
    with np.errstate(divide="ignore", invalid="ignore"):
        slabs = [((lo[i] - o[i]) / d[i], (hi[i] - o[i]) / d[i]) for i in range(3)]
    near = [np.minimum(t1, t2) for t1, t2 in slabs]
    t_in = np.maximum(np.maximum(near[0], near[1]), near[2])
    t_out = np.minimum(np.minimum(*[np.maximum(t1, t2) for t1, t2 in slabs[:2]]), np.maximum(*slabs[2]))
    t = np.where((t_in <= t_out) & (t_in > 1e-9), t_in, MISS)
    return t, tuple(np.where(near[i] == t_in, -np.sign(d[i]), 0.0) for i in range(3))


def nearest(*hits: Hit) -> Hit:
    """The nearest of several hits, ray by ray."""
    t, normal = hits[0]
    for t_other, n_other in hits[1:]:
        closer = t_other < t
        t = np.where(closer, t_other, t)
        normal = tuple(np.where(closer, b, a) for a, b in zip(normal, n_other))
    return t, normal


def hit_object(o: Vec, d: Vec, shape: int, scale: np.ndarray) -> Hit:
    """Nearest hit of rays with object `shape` (an index into SHAPE_NAMES) of size `scale` (G, 1)."""
    zero = np.zeros_like(scale)
    if shape == 0:  # cube of side 1.5 scale standing on the floor
        a = 0.75 * scale
        return hit_box(o, d, (-a, zero, -a), (a, 2 * a, a))
    if shape == 1:  # cylinder, radius 0.75 scale, height 1.5 scale (its bottom rests on the floor)
        r, h = 0.75 * scale, 1.5 * scale
        return nearest(hit_cylinder_side(o, d, r, zero, h), hit_disc_top(o, d, r, h))
    if shape == 2:  # sphere of radius 0.85 scale resting on the floor
        r = 0.85 * scale
        return hit_sphere(o, d, r, r)
    if shape == 3:  # capsule: radius 0.55 scale, straight part 1.3 scale, total height 2.4 scale
        r, top = 0.55 * scale, 1.85 * scale
        return nearest(hit_sphere(o, d, r, r), hit_sphere(o, d, top, r), hit_cylinder_side(o, d, r, r, top))
    raise ValueError(f"shape must be in 0..{len(SHAPE_NAMES) - 1}, got {shape}")


def shaded_coverage(
    shape: int, scale: np.ndarray, orientation_deg: np.ndarray, size: int = 64, supersample: int = 2
) -> np.ndarray:
    """Per-region shaded coverage W (G, 3, size, size) float32 of G scenes of one shape (module doc).

    `scale` and `orientation_deg` (G,) give each scene's object size and camera turn.
    """
    G = len(scale)
    o, d = camera_rays(orientation_deg, size, supersample)
    scale = np.asarray(scale, dtype=np.float32)[:, None]  # (G, 1)
    t_obj, n_obj = hit_object(o, d, shape, scale)
    # the room: floor y = 0 (normal +y), walls x = -ROOM (normal +x) and z = -ROOM (normal +z)
    t_floor, t_wall_x, t_wall_z = (
        hit_plane(o, d, 1, 0.0),
        hit_plane(o, d, 0, -ROOM),
        hit_plane(o, d, 2, -ROOM),
    )
    t_bg = np.minimum(np.minimum(t_floor, t_wall_x), t_wall_z)  # (G, R)
    on_floor, on_wall_x = t_floor == t_bg, (t_wall_x == t_bg) & (t_floor != t_bg)
    n_bg = (on_wall_x.astype(float), on_floor.astype(float), (~on_floor & ~on_wall_x).astype(float))
    is_object = t_obj < t_bg
    region = np.where(is_object, 2, np.where(on_floor, 0, 1))  # (G, R) 0 floor, 1 wall, 2 object
    normal = tuple(np.where(is_object, a, b) for a, b in zip(n_obj, n_bg))
    point = along(o, d, np.where(is_object, t_obj, t_bg))
    # shadows: a background point is dark when the ray towards the light meets the object
    start = tuple(p + 1e-4 * n for p, n in zip(point, normal))
    towards_light = tuple(np.full_like(t_bg, c) for c in LIGHT)
    shadowed = ~is_object & np.isfinite(hit_object(start, towards_light, shape, scale)[0])
    lambert = np.clip(dot(normal, LIGHT), 0.0, None) * ~shadowed
    shade = AMBIENT + (1 - AMBIENT) * lambert  # (G, R)
    coverage = np.stack([shade * (region == r) for r in range(len(REGIONS))], axis=1)  # (G, 3, R)
    coverage = coverage.reshape(G, 3, size, supersample, size, supersample).mean(axis=(3, 5))
    return coverage.astype(np.float32)


def hue_to_rgb(hue: np.ndarray, saturation: float = 0.8, value: float = 1.0) -> np.ndarray:
    """RGB in [0, 1] (..., 3) of hues in [0, 1) (...) at a fixed saturation and value (HSV model)."""
    h6 = (np.asarray(hue, dtype=np.float64) % 1.0) * 6.0
    # each channel is a trapezoid in hue: distance to its peak, clipped
    k = (np.array([5.0, 3.0, 1.0]) + h6[..., None]) % 6.0  # (..., 3)
    ramp = np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return value * (1.0 - saturation * ramp)
