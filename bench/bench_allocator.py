"""EfficientNet-Lite0 CPU inference with glibc's default allocator vs core.ml.runtime.tune_allocator().

    .venv/bin/python bench/bench_allocator.py [--images 256] [--size 256] [--batch 32] [--repeats 3]

Each variant runs in a fresh process (mallopt settings cannot be undone), alternating, and the
best time of each is compared; the ratio is what to read, absolute times are noisy here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time, torch
from core.ml import models, runtime
tuned = sys.argv[1] == "tuned"
if tuned:
    runtime.tune_allocator()
n, size, batch = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
model = models.build("efficientnet_lite0", 3, image_size=size).model.eval()
images = torch.randn(n, 3, size, size)
with torch.inference_mode():
    model(images[:batch])  # warm-up
    start = time.perf_counter()
    for i in range(0, n, batch):
        model(images[i:i + batch])
    print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def run(variant: str, args: argparse.Namespace) -> float:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, variant, str(args.images), str(args.size), str(args.batch)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"default": [], "tuned": []}
    for _ in range(args.repeats):
        for variant in times:
            times[variant].append(run(variant, args))
    base, tuned = min(times["default"]), min(times["tuned"])
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"efficientnet_lite0 inference, {args.images} images at {args.size} px, batch {args.batch}")
    print(f"  default allocator: {args.images / base:7.1f} images/s (best of {args.repeats})")
    print(f"  tuned allocator:   {args.images / tuned:7.1f} images/s")
    print(f"  speed-up: {base / tuned:.2f}x")


if __name__ == "__main__":
    main()
