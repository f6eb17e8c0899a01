"""Grad-CAM looks at the bolt: on demo photos whose bolt region is known, the heatmap's peak falls inside it."""

from __future__ import annotations

import numpy as np
import pytest

from core import demo, evaluation, jobs, runs
from core.config import TrainConfig
from core.ml import explain, predict
from tests.core.train_helpers import ADMIN, add_demo, run_job_here

pytestmark = pytest.mark.slow
SHARE = 0.7  # at least this share of defect photos must have the heatmap peak on the bolt (seen: 18 of 24)


def test_gradcam_peak_lies_on_the_bolt(ws):
    add_demo(ws, 120)
    job_id = jobs.submit(ws.conn, ADMIN, TrainConfig(epochs=4, image_size=128, batch_size=16, augment="photo"))
    assert run_job_here(ws, job_id) == "done"
    run = runs.run_for_job(ws.conn, job_id)
    evaluation.promote(ws.conn, ADMIN, run.id)
    predictor = predict.load_predictor(ws)
    hits, total, inside, faithful, random_scores = 0, 0, [], [], []
    rng = np.random.default_rng(0)
    for seed in range(5000, 5024):
        label = ("broken", "missing")[seed % 2]
        photo = demo.render_crop(seed, label)
        target = predictor.class_names.index(label)
        shown = explain.explain(predictor, photo.image, "gradcam", target=target)
        y, x = np.unravel_index(int(np.argmax(shown.mask)), shown.mask.shape)
        x0, y0, x1, y1 = photo.box
        hits += int(x0 <= x < x1 and y0 <= y < y1)
        if seed % 4 == 0:  # ROAD is slower: a sample of the photos
            small, _ = explain.cam_mask(predictor, photo.image, "gradcam", target)
            faithful.append(explain.faithfulness(predictor, photo.image, small, target))
            random_scores.append(explain.faithfulness(predictor, photo.image, rng.random(small.shape), target))
        box_mask = np.zeros_like(shown.mask)
        box_mask[y0:y1, x0:x1] = 1
        inside.append(float((shown.mask * box_mask).sum() / max(shown.mask.sum(), 1e-9)) / box_mask.mean())
        total += 1
    print(f"peak on the bolt in {hits}/{total}; heat inside the box vs its area: {np.mean(inside):.2f}")
    assert hits / total >= SHARE, f"peak on the bolt in {hits}/{total} photos"
    assert np.mean(inside) > 1.0  # more heat per pixel on the bolt than over the whole photo
    print(f"ROAD: Grad-CAM {np.mean(faithful):.3f}, random masks {np.mean(random_scores):.3f}")
    assert np.mean(faithful) > np.mean(random_scores)  # the heatmap shows what the model uses
