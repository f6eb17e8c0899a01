"""Photos of other domains for the unfamiliar-photo gate's test (issue 17, acceptance 1; the test is in
test_cam_centre_real.py, on its quick model): the demo's rendered bolts, the images that ship with scikit-image and
random textures; and the count of photos a predictor holds back."""

from __future__ import annotations

from importlib import resources

import cv2
import numpy as np
import pytest
from PIL import Image

from core.ml import predict


def textures(n: int = 30) -> list[Image.Image]:
    """Seeded noise, blotches and wave patterns: nothing like a photo of anything."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        pixels = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
        if i % 3 == 1:
            pixels = np.clip(cv2.GaussianBlur(pixels.astype(np.float32), (0, 0), 4) * 3 - 256, 0, 255)
        elif i % 3 == 2:
            x = np.arange(256)
            wave = (np.sin(x[None, :] / (3 + i)) + np.cos(x[:, None] / (5 + i))) * 60 + 128
            pixels = np.stack([wave] * 3, axis=-1)
        out.append(Image.fromarray(pixels.astype(np.uint8)))
    return out


def skimage_images() -> list[Image.Image]:
    pytest.importorskip("skimage")  # requirements-dev.txt: its wheel carries the pictures
    folder = resources.files("skimage") / "data"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith((".png", ".jpg")))
    return [Image.open(folder / name).convert("RGB") for name in names]


def flagged(predictor: predict.Predictor, photos: list) -> tuple[int, int]:
    found = []
    for start in range(0, len(photos), 32):
        found += predict.predict(predictor, photos[start : start + 32])
    assert all(p.familiarity is not None for p in found)
    return sum(p.unfamiliar for p in found), len(found)
