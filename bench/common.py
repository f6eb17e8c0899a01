"""Shared by the benchmarks: 12-megapixel test photos, percentiles, and a line describing the machine."""

from __future__ import annotations

import io
import os
import platform
import statistics
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TWELVE_MP = (4000, 3000)


def big_jpeg(seed: int, label: str = "broken", size: tuple[int, int] = TWELVE_MP, quality: int = 90) -> bytes:
    """A demo bolt scaled up to a 12-megapixel camera JPEG, with sensor-like noise so it compresses like one."""
    from core import demo

    crop = demo.render_crop(seed, label).image
    photo = crop.resize(size, Image.Resampling.BILINEAR)
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 6, (size[1] // 2, size[0] // 2, 3)).astype(np.float32)
    grain = np.asarray(Image.fromarray(np.uint8(np.clip(noise + 128, 0, 255))).resize(size), dtype=np.int16) - 128
    arr = np.clip(np.asarray(photo, dtype=np.int16) + grain, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(arr).save(out, "JPEG", quality=quality)
    return out.getvalue()


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{os.cpu_count()}-core {platform.machine()}, {gpu}, Python {platform.python_version()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
