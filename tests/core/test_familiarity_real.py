"""The unfamiliar-photo gate on real photos (issue 17, acceptance 1): a quick model trained on the `screws` training
crops flags photos of other domains (the demo's rendered bolts, the images that ship with scikit-image, random
textures) and lets the screws test photos through. Run with -s for the figures."""

from __future__ import annotations

from importlib import resources

import cv2
import numpy as np
import pytest
from PIL import Image

from core import demo, ingest, jobs, runs
from core.config import QUICK_IMAGE_SIZE, TrainConfig
from core.ml import predict
from core.workspace import open_workspace
from tests.conftest import SHARED_DATASETS
from tests.core.train_helpers import ADMIN, run_job_here

pytestmark = pytest.mark.slow


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


def test_photos_of_other_domains_are_held_back_and_screws_test_photos_are_not(tmp_path):
    root = SHARED_DATASETS
    if not (root / "screws" / "train").is_dir():
        pytest.skip("../shared/datasets/screws is not present")
    ws = open_workspace(tmp_path / "ws")
    try:
        ingest.import_paths(ws, ADMIN, [root / "screws" / "train"], split="train")
        config = TrainConfig(kind="quick", epochs=1, warmup_epochs=0, image_size=QUICK_IMAGE_SIZE, seed=0)
        job_id = jobs.submit(ws.conn, ADMIN, config)
        assert run_job_here(ws, job_id) == "done"
        predictor = predict.load_predictor(ws, runs.run_for_job(ws.conn, job_id).id)
        test = sorted((root / "screws" / "test").rglob("*.jpg"))
        figures = {
            "screws test": flagged(predictor, test),
            "demo renders": flagged(predictor, [demo.render_crop(s, c).image for s in range(20) for c in demo.CLASSES]),
            "scikit-image": flagged(predictor, skimage_images()),
            "random textures": flagged(predictor, textures()),
        }
    finally:
        ws.close()
    for name, (hit, n) in figures.items():
        print(f"{name}: {hit}/{n} = {hit / n:.3f} unfamiliar")
    others = [figures[k] for k in ("demo renders", "scikit-image", "random textures")]
    other_share = sum(h for h, _ in others) / sum(n for _, n in others)
    print(f"other domains together: {other_share:.3f}")
    hit, n = figures["screws test"]
    assert n == 184 and hit / n <= 0.03
    assert other_share >= 0.95
