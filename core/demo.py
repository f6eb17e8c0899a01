"""Synthetic but plausible photos of hex-socket cap screws on machined plates, deterministic per seed.

normal: intact socket head (cylindrical head, chamfered rim, hex socket), sometimes on a washer;
broken: shank sheared flush in the bore with a rough fracture face, or a head cracked with a chunk gone;
missing: empty threaded bore with a bright chamfer and the witness ring where the head sat.
Lighting, tilt, scale, rotation, plate texture (turned or brushed), rust, blur, noise and JPEG
quality vary the same way in every class, so a model can only learn the bolt itself.
"""

from __future__ import annotations

import io
import math
import sqlite3
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from core import auth, store

CLASSES = ("normal", "broken", "missing")
SS = 2  # supersampling factor: shapes are drawn at twice the size, then downsampled


@dataclass(frozen=True)
class DemoPhoto:
    image: Image.Image
    label: str
    box: tuple[int, int, int, int]  # the bolt (or bore) region, x0 y0 x1 y1, in the final photo
    jpeg: bytes


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a coarse random grid upsampled bicubically."""
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    img = Image.fromarray(grid, "F").resize((w, h), Image.Resampling.BICUBIC)
    arr = np.asarray(img)
    return arr / (np.abs(arr).max() + 1e-6)


def _plate(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Machined plate: anodised or bare metal, turned rings or brushed streaks, stains."""
    base = rng.choice([rng.uniform(150, 200), rng.uniform(95, 135), rng.uniform(60, 85)])
    tint = np.array([1.0, 1.0 + rng.uniform(-0.02, 0.03), 1.0 + rng.uniform(-0.02, 0.08)])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.random() < 0.55:  # turned face: tool marks are arcs around a far-away spindle axis
        cx, cy = rng.uniform(-2, 3) * w, rng.uniform(-2, 3) * h
        radius = np.hypot(xx - cx, yy - cy)
        texture = 5 * np.sin(2 * np.pi * radius / rng.uniform(2.5, 6.0)) + 3 * _smooth_noise(rng, h, w, 24)
    else:  # brushed: streaks along one direction
        streaks = rng.standard_normal((h, 6)).astype(np.float32)
        img = Image.fromarray(streaks, "F").resize((w, h), Image.Resampling.BILINEAR)
        img = img.rotate(rng.uniform(0, 180), resample=Image.Resampling.BILINEAR, expand=False)
        texture = 7 * np.asarray(img)
    texture += 2.5 * rng.standard_normal((h, w)).astype(np.float32)
    stains = 12 * _smooth_noise(rng, h, w, 5)
    gray = base + texture + stains
    return np.clip(gray[..., None] * tint[None, None, :], 0, 255)


def _polar(size: int, cx: float, cy: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    return dx, dy, np.hypot(dx, dy), np.arctan2(dy, dx)


def _hexagon(dx: np.ndarray, dy: np.ndarray, circumradius: float, turn: float) -> np.ndarray:
    apothem = circumradius * math.cos(math.pi / 6)
    inside = np.ones_like(dx, dtype=bool)
    for k in range(3):
        ang = turn + k * math.pi / 3
        inside &= np.abs(dx * math.cos(ang) + dy * math.sin(ang)) <= apothem
    return inside


def _paint(canvas: np.ndarray, mask: np.ndarray, value: np.ndarray | float) -> None:
    """Set the masked pixels to a grey value (a scalar or a per-pixel map)."""
    value = np.asarray(value, dtype=np.float32)
    canvas[mask] = (value[mask] if value.ndim == 2 else value)[..., None]


def _fracture(rng: np.random.Generator, dx, dy, radius: float, light: float) -> np.ndarray:
    """Rough, matte, granular fracture face with fatigue beach marks around an origin at the rim."""
    size = dx.shape[0]
    grain = _smooth_noise(rng, size, size, max(8, size // (2 * SS))) + 0.5 * _smooth_noise(rng, size, size, 40)
    origin = rng.uniform(0, 2 * math.pi)
    ox, oy = radius * math.cos(origin), radius * math.sin(origin)
    beach = np.sin(np.hypot(dx - ox, dy - oy) / (radius * rng.uniform(0.08, 0.14)) * 2 * math.pi)
    tilt = (dx * math.cos(light) + dy * math.sin(light)) / radius  # slightly uneven face
    return 128 + 40 * grain / (np.abs(grain).max() + 1e-6) + 10 * beach + 18 * tilt


def _bolt(
    rng: np.random.Generator, canvas: np.ndarray, label: str, cx: float, cy: float, r: float, light: float
) -> None:
    """Draw the bolt (or its absence) into canvas, top view, supersampled coordinates."""
    size = canvas.shape[0]
    dx, dy, dist, ang = _polar(size, cx, cy)
    facing = np.cos(ang - light)  # +1 on the side that faces the light
    bore = r * rng.uniform(0.56, 0.64)  # thread diameter / head diameter of ISO 4762 screws
    sat = r * rng.uniform(1.0, 1.05)
    canvas_shadow = np.hypot(dx + 0.12 * r * math.cos(light), dy + 0.12 * r * math.sin(light))
    if label != "missing" and not (label == "broken" and rng.random() < 0.6):
        washer = rng.random() < 0.35
        if washer:
            w_r = r * rng.uniform(1.22, 1.4)
            _paint(canvas, dist < w_r * 1.04, canvas.mean(axis=2) * 0.55)
            _paint(canvas, dist < w_r, rng.uniform(120, 175) + 25 * facing * (dist / w_r))
        canvas *= np.clip(0.55 + 0.45 * np.clip((canvas_shadow - r) / (0.35 * r), 0, 1), 0, 1)[..., None]
        metal = rng.choice([rng.uniform(38, 62), rng.uniform(140, 185)])  # black oxide or stainless
        side = np.hypot(dx + 0.08 * r * math.cos(light + 2.2), dy + 0.08 * r * math.sin(light + 2.2))
        _paint(canvas, side < r, metal * 0.6)
        top = dist < r
        rim = top & (dist > 0.86 * r)
        spec = np.exp(
            -((dx - 0.35 * r * math.cos(light)) ** 2 + (dy - 0.35 * r * math.sin(light)) ** 2) / (0.18 * r * r)
        )
        _paint(canvas, top, metal + 10 * facing * dist / r + 55 * spec + 3 * rng.standard_normal(dist.shape))
        _paint(canvas, rim, metal + 45 * facing)
        h_r = r * rng.uniform(0.48, 0.56)
        hexa = _hexagon(dx, dy, h_r, rng.uniform(0, math.pi / 3))
        wall = np.clip(-(dx * math.cos(light) + dy * math.sin(light)) / h_r, 0, 1) ** 1.4
        _paint(canvas, hexa, 14 + 70 * wall * np.clip(dist / h_r, 0, 1) + 4 * rng.standard_normal(dist.shape))
        _paint(canvas, dist < 0.22 * h_r, 22 + 10 * facing)
        if label == "broken":  # cracked head: a chunk broken off exposes the fracture face
            cut = rng.uniform(0, 2 * math.pi)
            crack = (dx * math.cos(cut) + dy * math.sin(cut)) > r * rng.uniform(0.15, 0.45)
            jag = 0.07 * r * _smooth_noise(rng, size, size, 30)
            broken = top & ((dx * math.cos(cut) + dy * math.sin(cut) + jag) > r * 0.3) | (crack & top)
            _paint(canvas, broken, _fracture(rng, dx, dy, r, light) * 0.85)
            line = top & (np.abs(dx * math.cos(cut) + dy * math.sin(cut) + jag - r * 0.3) < 0.03 * r)
            _paint(canvas, line, 20.0)
        return
    # head gone: witness ring where it sat, chamfer, and then a sheared shank or an empty bore
    ring = (dist < sat) & (dist > bore * 1.18)
    canvas[ring] = canvas[ring] * rng.uniform(0.82, 1.12) + rng.uniform(-6, 10)
    edge = np.abs(dist - sat) < 0.035 * r
    canvas[edge] *= 0.7
    chamfer = (dist < bore * 1.18) & (dist >= bore)
    _paint(canvas, chamfer, 150 + 70 * (-facing) * 0.5 + 40)
    hole = dist < bore
    if label == "missing":
        depth = np.clip(1 - dist / bore, 0, 1)
        threads = 0.5 + 0.5 * np.sin(dist / bore * 2 * math.pi * rng.uniform(4.5, 6.5) + ang)
        lit = np.clip(-facing, 0, 1)
        _paint(canvas, hole, 8 + (30 + 40 * lit) * threads * (1 - depth) ** 1.5 + 8 * (1 - depth))
    else:
        gap = hole & (dist > bore * 0.9)
        _paint(canvas, gap, 18.0)
        stub = dist < bore * 0.9
        _paint(canvas, stub, _fracture(rng, dx, dy, bore, light))


def _rust(rng: np.random.Generator, canvas: np.ndarray) -> None:
    size = canvas.shape[0]
    spots = _smooth_noise(rng, size, size, int(rng.integers(6, 14)))
    mask = np.clip((spots - rng.uniform(0.35, 0.7)) * 4, 0, 1) * rng.uniform(0.4, 0.8)
    rust = np.array([130, 68, 32], dtype=np.float32) * (0.8 + 0.4 * _smooth_noise(rng, size, size, 40)[..., None])
    canvas[:] = canvas * (1 - mask[..., None]) + rust * mask[..., None]


def render_crop(seed: int, label: str) -> DemoPhoto:
    """One bolt crop (about 110-300 px, like a crop of a wheel photo), deterministic for the seed."""
    if label not in CLASSES:
        raise ValueError(f"label {label!r} is not a demo class; valid: {', '.join(CLASSES)}")
    rng = np.random.default_rng([seed, CLASSES.index(label)])
    out = int(rng.integers(112, 300))
    size = out * SS
    canvas = _plate(rng, size, size)
    r = size * rng.uniform(0.2, 0.32)
    cx = size / 2 + rng.uniform(-0.12, 0.12) * size
    cy = size / 2 + rng.uniform(-0.12, 0.12) * size
    light = rng.uniform(0, 2 * math.pi)
    _bolt(rng, canvas, label, cx, cy, r, light)
    if rng.random() < 0.3:
        _rust(rng, canvas)
    img, (bx, by), scale = _finish(rng, canvas, out, (cx, cy))
    half = r * 1.08 * scale
    box = (max(0, int(bx - half)), max(0, int(by - half)), min(out, int(bx + half) + 1), min(out, int(by + half) + 1))
    quality = int(rng.integers(60, 96))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return DemoPhoto(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), label, box, buf.getvalue())


def _finish(
    rng: np.random.Generator, canvas: np.ndarray, out: int, centre: tuple[float, float]
) -> tuple[Image.Image, tuple[float, float], float]:
    """Camera effects: light fall-off, tilt (foreshortening), exposure, blur, sensor noise.

    Returns the photo, where the bolt centre landed in it, and the pixel scale from the canvas.
    """
    size = canvas.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    g = rng.uniform(0, 2 * math.pi)
    falloff = 1 + rng.uniform(0.05, 0.3) * (xx * math.cos(g) + yy * math.sin(g)) - rng.uniform(0, 0.5) * (xx**2 + yy**2)
    canvas = canvas * falloff[..., None] * rng.uniform(0.75, 1.15)
    warm = np.array([1 + rng.uniform(-0.04, 0.06), 1.0, 1 + rng.uniform(-0.06, 0.04)], dtype=np.float32)
    img = Image.fromarray(np.clip(canvas * warm, 0, 255).astype(np.uint8), "RGB")
    # camera not square to the plate: squash by k along a random axis, about the centre
    k, axis = rng.uniform(0.78, 1.0), rng.uniform(0, math.pi)
    c, s = math.cos(axis), math.sin(axis)
    fwd = np.array([[c * c * k + s * s, c * s * (k - 1)], [c * s * (k - 1), s * s * k + c * c]])
    inv = np.linalg.inv(fwd)
    mid = size / 2
    shift = np.array([mid, mid]) - inv @ np.array([mid, mid])
    img = img.transform(
        img.size,
        Image.Transform.AFFINE,
        (inv[0, 0], inv[0, 1], shift[0], inv[1, 0], inv[1, 1], shift[1]),
        resample=Image.Resampling.BICUBIC,
        fillcolor=(96, 96, 96),
    )
    moved = fwd @ (np.array(centre) - mid) + mid
    margin = 0.12
    crop = img.crop(_inner_box(img.size, margin))
    scale = out / crop.size[0]
    img = crop.resize((out, out), Image.Resampling.LANCZOS)
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.6)))
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, rng.uniform(1.5, 7), (out, out, 1))
    where = ((moved[0] - size * margin) * scale, (moved[1] - size * margin) * scale)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB"), where, scale


def _inner_box(size: tuple[int, int], margin: float) -> tuple[int, int, int, int]:
    w, h = size
    return int(w * margin), int(h * margin), int(w * (1 - margin)), int(h * (1 - margin))


def demo_set(n: int, seed: int = 0) -> list[DemoPhoto]:
    """n photos, the classes in turn, each deterministic for (seed, index)."""
    return [render_crop(seed * 1_000_003 + i, CLASSES[i % len(CLASSES)]) for i in range(n)]


def trash_all(conn: sqlite3.Connection, actor: auth.Actor) -> int:
    """Move every demo photo (source 'demo') to the trash, the way to start on real photos: admin only, through
    the trash (audited, restorable); photos from any other source stay. Returns how many moved."""
    auth.require(actor, "delete")
    return store.set_trashed(conn, actor, store.query_ids(conn, store.ImageQuery(sources=("demo",))), True)
