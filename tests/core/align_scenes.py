"""Synthetic stations for the alignment tests and bench: a wheel plate with bolts on a bolt circle, drawn with
PIL, and moved by a known similarity; another unit gets another texture, light and wear."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Unit:
    """What differs between two units of one design, and between two photos of one."""

    seed: int = 0
    states: tuple[str, ...] = ()  # per bolt: "normal" | "missing" | "broken"; default all normal
    base: tuple[int, int, int] = (150, 150, 155)
    light: float = 0.0  # strength of a left-to-right light gradient
    valve: bool = True  # the one feature that is not symmetric


def wheel(size: tuple[int, int], bolts: int = 12, unit: Unit = Unit()) -> tuple[Image.Image, list[Box]]:
    """A hub plate: rim and hub rings, `bolts` bolts evenly on a bolt circle, a valve (the one asymmetric
    feature); returns the image and each bolt's box (the head with a little margin)."""
    w, h = size
    rng = np.random.default_rng(unit.seed)
    side = min(w, h)
    cx, cy, r_bolt, r_head = w / 2, h / 2, 0.3 * side, 0.045 * side
    img = Image.fromarray(_plate(rng, (w, h), unit.base))
    draw = ImageDraw.Draw(img)
    for radius, shade in ((0.46 * side, 70), (0.16 * side, 80), (0.07 * side, 60)):
        draw.ellipse(
            (cx - radius, cy - radius, cx + radius, cy + radius), outline=(shade,) * 3, width=max(2, side // 150)
        )
    valve = (cx + 0.4 * side * math.cos(0.3), cy + 0.4 * side * math.sin(0.3))
    if unit.valve:
        draw.rectangle(
            (valve[0] - side * 0.02, valve[1] - side * 0.012, valve[0] + side * 0.02, valve[1] + side * 0.012),
            fill=(40, 40, 40),
        )
    states = unit.states or ("normal",) * bolts
    boxes = []
    for k in range(bolts):
        a = 2 * math.pi * k / bolts - math.pi / 2
        x, y = cx + r_bolt * math.cos(a), cy + r_bolt * math.sin(a)
        _bolt(draw, x, y, r_head, states[k], rng)
        m = 1.5 * r_head
        boxes.append((round(x - m), round(y - m), round(x + m), round(y + m)))
    img = img.filter(ImageFilter.GaussianBlur(0.8))
    arr = np.asarray(img, dtype=np.float32)
    if unit.light:
        arr = arr * (1 + unit.light * np.linspace(-0.5, 0.5, w, dtype=np.float32))[None, :, None]
    arr += rng.normal(0, 3, arr.shape).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)), boxes


def _plate(rng: np.random.Generator, size: tuple[int, int], base: tuple[int, int, int]) -> np.ndarray:
    """Brushed metal with scratches: a texture of its own for every unit."""
    w, h = size
    streaks = cv2.resize(rng.normal(0, 8, (h, 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    arr = np.array(base, dtype=np.float32)[None, None, :] + streaks[..., None]
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        a, length = rng.uniform(0, math.pi), rng.uniform(0.05, 0.3) * min(w, h)
        tone = int(rng.uniform(90, 200))
        draw.line((x, y, x + length * math.cos(a), y + length * math.sin(a)), fill=(tone,) * 3, width=1)
    return np.asarray(img)


def _bolt(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, state: str, rng: np.random.Generator) -> None:
    if state == "missing":
        draw.ellipse((x - 0.6 * r, y - 0.6 * r, x + 0.6 * r, y + 0.6 * r), fill=(20, 20, 20))
        return
    metal = int(rng.uniform(160, 210))
    draw.ellipse((x - r, y - r, x + r, y + r), fill=(metal,) * 3, outline=(50, 50, 50), width=max(1, int(r / 10)))
    turn = rng.uniform(0, math.pi / 3)
    hexagon = [
        (x + 0.45 * r * math.cos(turn + i * math.pi / 3), y + 0.45 * r * math.sin(turn + i * math.pi / 3))
        for i in range(6)
    ]
    draw.polygon(hexagon, fill=(30, 30, 30))
    if state == "broken":
        draw.pieslice((x - r, y - r, x + r, y + r), rng.uniform(0, 360), rng.uniform(0, 360) + 90, fill=(95, 90, 85))


def motion(size: tuple[int, int], angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """The 2x3 matrix old px -> new px: turned by `angle` degrees and scaled about the centre, then shifted."""
    m = cv2.getRotationMatrix2D((size[0] / 2, size[1] / 2), angle, scale)
    m[:, 2] += shift
    return m


def moved(image: Image.Image, m: np.ndarray) -> Image.Image:
    """The image under m, on a canvas of the same size (edge pixels repeat, as a real photo goes on)."""
    out = cv2.warpAffine(np.asarray(image.convert("RGB")), m, image.size, borderMode=cv2.BORDER_REPLICATE)
    return Image.fromarray(out)


def centres(boxes: list[Box], m: np.ndarray | None = None) -> np.ndarray:
    pts = np.array([((x0 + x1) / 2, (y0 + y1) / 2) for x0, y0, x1, y1 in boxes], dtype=float)
    return pts if m is None else pts @ m[:, :2].T + m[:, 2]
