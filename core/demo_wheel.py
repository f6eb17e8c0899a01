"""A synthetic whole-wheel photo for the inspection demo and tests: a wheel hub of an overhead transport vehicle
with hex-socket cap screws on a bolt circle (2448×2048 by default), some broken or missing, deterministic per
seed. The bolts are drawn the way core.demo draws its crops, so a model trained on the demo crops can judge
the wheel's positions. The photo can be taken moved (rotation, shift, scale) and under other light; the
positions move with it, so every test knows where each bolt is and what it is.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from core import demo

SIZE = (2448, 2048)  # width, height: the plant's camera
BOLTS = 12
BOX_PER_RADIUS = 3.8  # a position's box side over the bolt head's radius: the demo crops' proportion


@dataclass(frozen=True)
class WheelPosition:
    name: str  # P1 … P12, clockwise from the top
    box: tuple[int, int, int, int]  # in the photo's pixels, axis-aligned around the bolt
    centre: tuple[float, float]
    label: str  # normal | broken | missing


@dataclass(frozen=True)
class Wheel:
    image: Image.Image
    positions: tuple[WheelPosition, ...]
    jpeg: bytes


def default_labels(seed: int, broken: int = 2, missing: int = 1) -> tuple[str, ...]:
    """Twelve labels, a few defects at places chosen by the seed."""
    rng = np.random.default_rng([seed, 7])
    labels = [demo.CLASSES[0]] * BOLTS  # normal
    for index, label in zip(rng.permutation(BOLTS), ["broken"] * broken + ["missing"] * missing, strict=False):
        labels[int(index)] = label
    return tuple(labels)


def _hub(rng: np.random.Generator, w: int, h: int, cx: float, cy: float, radius: float) -> np.ndarray:
    """Dark frame around a machined disc with a raised centre: float32 RGB, at 1× scale."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.hypot(xx - cx, yy - cy)
    angle = np.arctan2(yy - cy, xx - cx)
    turned = 0.5 + 0.5 * np.sin(dist / rng.uniform(2.5, 4.0))  # lathe marks: rings around the axis
    metal = rng.uniform(120, 165)
    canvas = np.full((h, w), rng.uniform(28, 45), dtype=np.float32)  # the vehicle's dark frame
    disc = dist < radius
    canvas[disc] = metal + 5 * turned[disc] + 14 * np.cos(angle[disc] - 0.8)
    rim = disc & (dist > radius * 0.96)
    canvas[rim] = metal * 0.7
    boss = dist < radius * 0.3
    canvas[boss] = metal * 0.85 + 18 * np.cos(angle[boss] - 0.8) + 8 * turned[boss]
    canvas[dist < radius * 0.12] = 25.0  # the axle bore
    # what breaks the bolt circle's symmetry (12 bolts look the same every 30°): a keyway in the boss towards
    # P1 and a drain hole between P3 and P4, as real hubs have, so a rotation of 20° is not one of 10°
    key = (np.abs(xx - cx) < radius * 0.035) & (yy < cy - radius * 0.1) & (yy > cy - radius * 0.3)
    canvas[key] = 30.0
    drain = np.hypot(xx - cx - radius * 0.55 * math.cos(-0.26), yy - cy - radius * 0.55 * math.sin(-0.26))
    canvas[drain < radius * 0.07] = 22.0
    # an identity plate riveted inside the bolt circle, below the hub, with its engraved lines
    plate = (np.abs(xx - cx + radius * 0.15) < radius * 0.16) & (np.abs(yy - cy - radius * 0.45) < radius * 0.07)
    canvas[plate] = 205.0
    for k in (-1, 0, 1):
        line = plate & (np.abs(yy - cy - radius * (0.45 + 0.03 * k)) < radius * 0.006)
        line &= np.abs(xx - cx + radius * 0.15) < radius * 0.12
        canvas[line] = 60.0
    return np.repeat(canvas[..., None], 3, axis=2)


def _bolt_patch(rng: np.random.Generator, patch: np.ndarray, label: str, r: float, light: float) -> np.ndarray:
    """Draw one bolt at the patch's centre, supersampled like the demo crops, and bring it back to 1×."""
    side = patch.shape[0]
    big = np.asarray(
        Image.fromarray(np.clip(patch, 0, 255).astype(np.uint8)).resize(
            (side * demo.SS,) * 2, Image.Resampling.BICUBIC
        ),
        dtype=np.float32,
    ).copy()
    demo._bolt(rng, big, label, side * demo.SS / 2, side * demo.SS / 2, r * demo.SS, light)
    small = Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).resize((side, side), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.float32)


def _inverse_map(size: tuple[int, int], angle: float, shift: tuple[float, float], scale: float) -> np.ndarray:
    """The 2x3 map from the moved photo back to the unmoved wheel (what PIL's affine transform wants)."""
    rad = math.radians(angle)
    a, b = math.cos(rad) / scale, math.sin(rad) / scale
    cx, cy = size[0] / 2, size[1] / 2
    tx, ty = cx + shift[0], cy + shift[1]
    return np.array([[a, b, cx - a * tx - b * ty], [-b, a, cy + b * tx - a * ty]])


def _camera(image: Image.Image, inverse: np.ndarray, seed: int) -> Image.Image:
    """The photo taken by hand: moved by the inverse map's inverse, with light fall-off, noise and blur."""
    w, h = image.size
    coeffs = tuple(float(v) for v in inverse.ravel())
    moved = image.transform(
        image.size, Image.Transform.AFFINE, coeffs, Image.Resampling.BICUBIC, fillcolor=(30, 30, 32)
    )
    rng = np.random.default_rng([seed, 11])
    arr = np.asarray(moved, dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    g = rng.uniform(0, 2 * math.pi)
    falloff = 1 + rng.uniform(0.05, 0.25) * ((xx / w - 0.5) * math.cos(g) + (yy / h - 0.5) * math.sin(g))
    arr = arr * falloff[..., None] * rng.uniform(0.8, 1.1) + rng.normal(0, 3.0, (h, w, 1))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))


def _forward(inverse: np.ndarray, point: tuple[float, float]) -> tuple[float, float]:
    """Where a point of the unmoved wheel lands in the moved photo."""
    full = np.vstack([inverse, [0.0, 0.0, 1.0]])
    x, y, _ = np.linalg.solve(full, np.array([point[0], point[1], 1.0]))
    return float(x), float(y)


def render_wheel(  # noqa: PLR0913 (the photo's own parameters, each with a plain default)
    seed: int = 0,
    labels: tuple[str, ...] | None = None,
    angle: float = 0.0,
    shift: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    size: tuple[int, int] = SIZE,
) -> Wheel:
    """One wheel photo and where each bolt is in it. angle in degrees (counter-clockwise as seen), shift in
    pixels, scale around the photo's centre. Boxes stay square, around each bolt's centre."""
    labels = labels or default_labels(seed)
    if len(labels) != BOLTS or any(lab not in demo.CLASSES for lab in labels):
        raise ValueError(f"a wheel has {BOLTS} labels from {demo.CLASSES}")
    rng = np.random.default_rng([seed, 3])
    w, h = size
    cx, cy = w / 2, h / 2
    hub_radius = 0.46 * min(w, h)
    canvas = _hub(rng, w, h, cx, cy, hub_radius)
    circle, r = 0.72 * hub_radius, 0.085 * hub_radius  # bolt circle and head radius (≈ 80 px at 2048 high)
    light = rng.uniform(0, 2 * math.pi)
    centres = []
    for n, label in enumerate(labels):
        theta = -math.pi / 2 + 2 * math.pi * n / BOLTS  # P1 at the top, then clockwise
        bx, by = cx + circle * math.cos(theta), cy + circle * math.sin(theta)
        half = int(1.6 * r)
        x0, y0 = int(bx) - half, int(by) - half
        patch = canvas[y0 : y0 + 2 * half, x0 : x0 + 2 * half]
        patch[:] = _bolt_patch(np.random.default_rng([seed, n]), patch, label, r, light)
        centres.append((x0 + half, y0 + half))
    still = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    inverse = _inverse_map(size, angle, shift, scale)
    photo = _camera(still, inverse, seed)
    positions = []
    for n, (centre, label) in enumerate(zip(centres, labels, strict=True)):
        mx, my = _forward(inverse, centre)
        half = BOX_PER_RADIUS * r * scale / 2
        box = (int(mx - half), int(my - half), int(mx + half), int(my + half))
        positions.append(WheelPosition(f"P{n + 1}", box, (mx, my), label))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=90)
    return Wheel(photo, tuple(positions), out.getvalue())
