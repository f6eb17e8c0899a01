"""Alignment time per photo against decoding the same photo, measured in the same run.

    .venv/bin/python bench/align.py [--repeats 15]

Two cases: a real screw-blocks photo (600x789; station = train/34.jpg and its four boxes) when
../shared/datasets/screw-blocks is present, and a synthetic 2448x2048 wheel with 12 bolts (another unit, turned
12°, scaled 1.05, shifted). For each: decode (the JPEG bytes to pixels: the baseline any inspection pays),
align (core.align.align on the decoded photo: with a new reference, as for the first photo of a station, and
with the reference kept prepared, as for the next photos of a batch), and crop (the 12 or 4 positions,
upright, margin 0.1).
p50/p95 in ms and align/decode as a ratio; the alignment must come back ok and near the known motion.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench.common import percentiles  # noqa: E402
from core import align  # noqa: E402
from tests.core import align_scenes as scenes  # noqa: E402

BLOCKS = ROOT.parent / "shared" / "datasets" / "screw-blocks"
BLOCK_BOXES = [(5, 69, 261, 326), (305, 69, 561, 326), (5, 429, 261, 686), (325, 429, 581, 686)]


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    fn()  # warm up (imports, allocator)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def case(name: str, reference: Image.Image, data: bytes, boxes, repeats: int, truth: np.ndarray | None) -> None:
    photo = decode(data)
    result = align.align(reference, photo, boxes)
    check = "ok" if result.ok else f"REFUSED ({result.reason})"
    if truth is not None and result.ok:
        got = scenes.centres(boxes, np.array(result.matrix).reshape(2, 3))
        check += f", max centre error {np.abs(got - scenes.centres(boxes, truth)).max():.1f} px"
    dec = percentiles(timed(lambda: decode(data), repeats))

    def cold() -> None:
        align._PREPARED.clear()  # the first photo against a station: the reference is prepared too
        align.align(reference, photo, boxes)

    new = percentiles(timed(cold, repeats))
    ali = percentiles(timed(lambda: align.align(reference, photo, boxes), repeats))
    cro = percentiles(timed(lambda: [align.crop(photo, result, b, 0.1) for b in boxes], repeats)) if result.ok else None
    print(f"{name}: {photo.width}x{photo.height}, {len(boxes)} positions; alignment {check}")
    rows = [("decode", dec, "(baseline)"), ("align", new, "(new reference)"), ("align", ali, "(reference kept)")]
    if cro:
        rows.append((f"crop x{len(boxes)}", cro, ""))
    for label, (p50, p95), note in rows:
        ratio = "" if label == "decode" else f"ratio to decode {p50 / dec[0]:.2f}x "
        print(f"  {label:8} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms   {ratio}{note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(f"{os.cpu_count()}-core {platform.machine()}, Python {platform.python_version()}")
    if (BLOCKS / "test").is_dir():
        reference = decode((BLOCKS / "train" / "34.jpg").read_bytes())
        data = (BLOCKS / "test" / "101.jpg").read_bytes()
        case("screw-blocks test/101.jpg", reference, data, BLOCK_BOXES, args.repeats, None)
    else:
        print("screw-blocks: ../shared/datasets/screw-blocks is not present; skipped")
    size = (2448, 2048)
    reference, boxes = scenes.wheel(size, 12, scenes.Unit(seed=1))
    unit = scenes.Unit(seed=7, states=("missing", "broken") + ("normal",) * 10, base=(120, 135, 150), light=0.4)
    truth = scenes.motion(size, 12.0, 1.05, (40.0, -30.0))
    photo = scenes.moved(scenes.wheel(size, 12, unit)[0], truth)
    case("synthetic wheel", reference, jpeg(photo), boxes, args.repeats, truth)


if __name__ == "__main__":
    main()
