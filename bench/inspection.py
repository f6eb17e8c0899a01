"""Inspecting a whole 2448×2048 wheel photo with 12 positions against diagnosing one crop, in the same run.

    .venv/bin/python bench/inspection.py [--repeats 20] [--arch efficientnet_lite0] [--size 224] [--device cpu]

inspect   decode the whole photo (guarded, full size) + SHA-256 + align to the station's reference + crop the
          12 positions + classify them in one batched forward + Grad-CAM for each in one batched backward
          (core.ml.inspect: what `inspect`, the Inspect page and the API run, the record left out)
diagnose  one bolt crop as the Diagnose page runs it (core.ml.diagnosis.diagnose with Grad-CAM): decode, quality
          signals and working copy, forward + Grad-CAM, the heatmap at the photo's size
Both use the same model (random head on the pip-shipped backbone weights) and run interleaved; p50/p95 in ms.
Bar: inspect / diagnose ≤ 3×.
"""

from __future__ import annotations

# Issue 16 names this bench/inspect.py; run as a script from bench/, a file of that name would shadow the standard
# library's `inspect` (numpy and torch import it) for every bench script, so it is bench/inspection.py.
import argparse
import hashlib
import io
import json
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: `core` and `bench`
import time  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

from bench.common import machine, percentiles  # noqa: E402
from core import align, stations  # noqa: E402
from core.ml import diagnosis, models, predict  # noqa: E402
from core.ml import inspect as inspection  # noqa: E402
from core.workspace import open_workspace  # noqa: E402

CLASSES = ("normal", "broken", "missing")
SIZE = (2448, 2048)
BOLTS = 12
BOLT_CIRCLE = 620  # px, radius of the bolt circle
HEAD = 78  # px, radius of a bolt head (washer face)


def wheel(seed: int, angle_deg: float = 0.0, shift: tuple[float, float] = (0, 0), scale: float = 1.0) -> Image.Image:
    """A wheel hub seen from the front: a disc, a hub, 12 hex-socket bolt heads on a bolt circle; the pose is a
    rotation about the centre, a scale and a shift. Sensor-like grain so the JPEG compresses like a camera's."""
    rng = np.random.default_rng(seed)
    cx, cy = SIZE[0] / 2 + shift[0], SIZE[1] / 2 + shift[1]
    img = Image.new("RGB", SIZE, (70, 74, 80))
    draw = ImageDraw.Draw(img)
    for radius, fill in ((980, (120, 124, 130)), (900, (150, 152, 158)), (330, (95, 98, 104)), (150, (60, 62, 66))):
        r = radius * scale
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    for x, y in bolt_centres(angle_deg, (cx, cy), scale):
        head, socket = HEAD * scale, HEAD * 0.42 * scale
        draw.ellipse((x - head, y - head, x + head, y + head), fill=(185, 186, 190), outline=(40, 40, 44), width=4)
        draw.ellipse((x - head * 0.8, y - head * 0.8, x + head * 0.8, y + head * 0.8), fill=(165, 166, 170))
        turn = math.radians(angle_deg + float(rng.uniform(0, 60)))
        hexagon = [(x + socket * math.cos(turn + k * math.pi / 3), y + socket * math.sin(turn + k * math.pi / 3))
                   for k in range(6)]  # fmt: skip
        draw.polygon(hexagon, fill=(25, 25, 28))
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    grain = rng.normal(0, 5, (SIZE[1], SIZE[0], 1)).astype(np.float32)
    return Image.fromarray(np.uint8(np.clip(np.asarray(img, dtype=np.float32) + grain, 0, 255)))


def bolt_centres(angle_deg: float, centre: tuple[float, float], scale: float) -> list[tuple[float, float]]:
    return [
        (
            centre[0] + BOLT_CIRCLE * scale * math.cos(math.radians(angle_deg + 360 * k / BOLTS - 90)),
            centre[1] + BOLT_CIRCLE * scale * math.sin(math.radians(angle_deg + 360 * k / BOLTS - 90)),
        )
        for k in range(BOLTS)
    ]


def jpeg(img: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def station_for(reference: Image.Image, run_id: int) -> stations.Station:
    half = int(HEAD * 1.4)
    positions = tuple(
        stations.Position(f"P{k + 1}", (round(x) - half, round(y) - half, round(x) + half, round(y) + half))
        for k, (x, y) in enumerate(bolt_centres(0.0, (SIZE[0] / 2, SIZE[1] / 2), 1.0))
    )
    sha = hashlib.sha256(reference.tobytes()).hexdigest()
    return stations.Station(1, "bench-wheel", 1, sha, reference.size, positions, run_id, 0.1, "bench", "now")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--arch", default="efficientnet_lite0")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    spec = models.build(args.arch, len(CLASSES), pretrained=True, image_size=args.size)
    spec.model.eval().requires_grad_(False).to(args.device)
    run = SimpleNamespace(id=0)
    predictor = predict.Predictor(run, spec, CLASSES, 0.5, torch.device(args.device))  # type: ignore[arg-type]
    ws = open_workspace(Path(tempfile.mkdtemp(prefix="bench-inspect-")))
    reference = wheel(1)
    station = station_for(reference, 0)
    pose = (4.0, (25.0, -18.0), 1.02)  # a hand-held photo: turned, shifted and closer than the reference
    photo_data = jpeg(wheel(2, *pose))
    crop = align.crop(reference, align.identity(), station.positions[0].box, margin=station.margin)
    crop_data = jpeg(crop)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    found = align.align(reference, inspection.decode_photo(ws, photo_data), [p.box for p in station.positions])
    manual = None if found.ok else align.from_points(*_true_points(station, pose))

    def inspect_one() -> None:
        photo = inspection.decode_photo(ws, photo_data)
        result, judged = inspection.inspect_photo(
            predictor,
            station,
            reference,
            photo,
            photo_sha256=hashlib.sha256(photo_data).hexdigest(),
            photo_name="wheel.jpg",
            asset="bench",
            alignment=None if manual is None else _timed_align(reference, photo, station, manual),
            cams=True,
        )
        assert sum(j is not None and j.mask is not None for j in judged) == BOLTS, result

    def diagnose_one() -> None:
        diagnosis.diagnose(ws, predictor, "crop.jpg", crop_data, cam=diagnosis.CamSettings())

    photo = inspection.decode_photo(ws, photo_data)
    boxes = [p.box for p in station.positions]
    placed = found if found.ok else manual
    crops = [align.crop(photo, placed, box, margin=station.margin) for box in boxes]
    variants = {
        "inspect": inspect_one,
        "diagnose": diagnose_one,
        # the parts of inspect, to show where its time goes
        "inspect/decode": lambda: inspection.decode_photo(ws, photo_data),
        "inspect/align": lambda: align.align(reference, photo, boxes),
        "inspect/crop": lambda: [align.crop(photo, placed, box, margin=station.margin) for box in boxes],
        "inspect/judge+CAM": lambda: inspection.judge(predictor, crops, cams=True),
    }
    times = _measure(variants, args.repeats, sync)
    p = {name: percentiles(t) for name, t in times.items()}
    ratio = p["inspect"][0] / p["diagnose"][0]
    print(
        f"# {machine()}; {args.arch} at {args.size} px on {args.device}; whole photo {SIZE[0]}×{SIZE[1]} JPEG "
        f"({len(photo_data) / 1e6:.1f} MB), {BOLTS} positions; crop {crop.size[0]}×{crop.size[1]}; "
        f"{args.repeats} repeats; automatic alignment {'accepted' if found.ok else 'refused: ' + str(found.reason)}"
    )
    for name, (p50, p95) in p.items():
        print(f"{name:>18}: p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    print(f"inspect one photo of {BOLTS} positions / diagnose one crop = {ratio:.2f}× (bar ≤ 3×)")
    print(
        json.dumps(
            {"bench": "inspect", "ratio": round(ratio, 3), **{f"{k}_p50_ms": round(v[0], 1) for k, v in p.items()}}
        )
    )


def _true_points(station: stations.Station, pose: tuple[float, tuple[float, float], float]) -> tuple[list, list]:
    """Two positions' centres in the reference and where the pose put them: a manual fix, used only when the
    automatic alignment refuses this synthetic photo (it is still timed)."""
    angle, shift, scale = pose
    centre = (SIZE[0] / 2 + shift[0], SIZE[1] / 2 + shift[1])
    ref = bolt_centres(0.0, (SIZE[0] / 2, SIZE[1] / 2), 1.0)
    moved = bolt_centres(angle, centre, scale)
    return [ref[0], ref[6]], [moved[0], moved[6]]


def _timed_align(reference: Image.Image, photo: Image.Image, station: stations.Station, manual: align.Alignment):
    align.align(reference, photo, [p.box for p in station.positions])  # its time counts; its answer was no
    return manual


def _measure(variants: dict, repeats: int, sync) -> dict[str, list[float]]:
    """Interleaved in rotating order after two warm-up calls each (first calls allocate and pick kernels)."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():
        fn(), fn()
    order = list(variants)
    for i in range(repeats):
        for name in order[i % len(order) :] + order[: i % len(order)]:
            sync()
            start = time.perf_counter()
            variants[name]()
            sync()
            times[name].append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    main()
