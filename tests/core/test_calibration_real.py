"""Temperature scaling on real photos (issue 17, acceptance 2): on the `screws` crops, with the quick model and a
fine-tuned EfficientNet-Lite0, the expected calibration error on the test photos after temperature scaling is at
most the one before. Run with -s for the figures."""

from __future__ import annotations

import numpy as np
import pytest

from core import calibration, ingest, jobs, metrics, runs
from core.config import QUICK_IMAGE_SIZE, TrainConfig
from core.workspace import open_workspace
from tests.conftest import SHARED_DATASETS
from tests.core.train_helpers import ADMIN, run_job_here

pytestmark = pytest.mark.slow
CONFIGS = {
    "quick model": TrainConfig(kind="quick", epochs=1, warmup_epochs=0, image_size=QUICK_IMAGE_SIZE, seed=0),
    "fine-tuned EfficientNet-Lite0": TrainConfig(
        arch="efficientnet_lite0", epochs=3, image_size=160, augment="photo", warmup_epochs=1, seed=0
    ),
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = SHARED_DATASETS / "screws"
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        pytest.skip("../shared/datasets/screws is not present")
    ws = open_workspace(tmp_path_factory.mktemp("calibration") / "ws")
    ingest.import_paths(ws, ADMIN, [root / "train"], split="train")
    ingest.import_paths(ws, ADMIN, [root / "test"], split="test")
    yield ws
    ws.close()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_test_calibration_error_is_no_worse_after_temperature_scaling(workspace, name):
    job_id = jobs.submit(workspace.conn, ADMIN, CONFIGS[name])
    assert run_job_here(workspace, job_id) == "done"
    run = runs.run_for_job(workspace.conn, job_id)
    index = {c: n for n, c in enumerate(run.class_names)}
    test = runs.predictions(workspace.conn, run.id, "test")
    assert len(test) >= 180  # 184 crops, some identical to another (imported once)
    truth = [index[p["label"]] for p in test]
    after = np.array([p["probs"] for p in test])
    before = calibration.rescale(after, 1.0 / run.temperature)
    ece_before, ece_after = metrics.reliability(truth, before)["ece"], metrics.reliability(truth, after)["ece"]
    print(f"\n{name}: temperature {run.temperature:.3f}, test ECE {ece_before:.4f} before, {ece_after:.4f} after")
    assert ece_after <= ece_before
