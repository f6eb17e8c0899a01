"""Temperature scaling (issue 17, part 2): the fit recovers a known temperature, a finished run keeps its
temperature with calibrated stored probabilities, and the served and exported models give those probabilities."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import calibration, evaluation, metrics, runs
from core.ml import checkpoint, predict
from core.workspace import open_workspace
from tests.core.train_helpers import ADMIN, promoted_tiny_run


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_the_fit_recovers_the_temperature_the_labels_were_drawn_at(true_t):
    """Labels drawn from softmax(z / T): the model's softmax(z) is over- (T > 1) or under-confident (T < 1)."""
    rng = np.random.default_rng(7)
    z = rng.normal(0, 3, size=(4000, 3))
    truth = [int(rng.choice(3, p=row)) for row in _softmax(z / true_t)]
    fitted = calibration.fit_temperature(_softmax(z), truth)
    assert fitted == pytest.approx(true_t, rel=0.12)
    assert calibration.nll(_softmax(z), truth, fitted) <= calibration.nll(_softmax(z), truth, 1.0)


def test_rescale_divides_the_logits():
    z = np.array([[2.0, 0.0, -1.0], [0.3, 0.2, 0.1]])
    assert np.allclose(calibration.rescale(_softmax(z), 2.0), _softmax(z / 2.0))
    assert np.allclose(calibration.rescale(_softmax(z), 1.0), _softmax(z))
    assert np.array_equal(calibration.rescale(_softmax(z), 3.0).argmax(axis=1), z.argmax(axis=1))  # same decisions


def test_too_few_photos_or_one_class_leave_the_temperature_at_one():
    probs = _softmax(np.random.default_rng(0).normal(size=(50, 2)))
    assert calibration.fit_temperature(probs[:5], [0, 1, 0, 1, 0]) == 1.0
    assert calibration.fit_temperature(probs, [0] * 50) == 1.0


@pytest.mark.slow  # trains a tiny model
def test_a_run_keeps_its_temperature_and_its_model_gives_the_stored_probabilities(tmp_path, monkeypatch):
    monkeypatch.setattr(calibration, "MIN_PHOTOS", 2)  # the tiny run validates on 6 photos: fit on them anyway
    ws = open_workspace(tmp_path / "ws")
    try:
        run = runs.get_run(ws.conn, promoted_tiny_run(ws).id)
        assert run.temperature is not None and calibration.LOWEST <= run.temperature <= calibration.HIGHEST
        assert run.temperature != 1.0  # fitted: the folding below is exercised
        saved = checkpoint.load(ws.settings.workspace / run.checkpoint)
        assert saved["temperature"] == pytest.approx(run.temperature)
        stored = runs.predictions(ws.conn, run.id)
        index = {c: n for n, c in enumerate(run.class_names)}
        val = [p for p in stored if p["split"] == "val"]
        probs, truth = np.array([p["probs"] for p in val]), [index[p["label"]] for p in val]
        raw = calibration.rescale(probs, 1.0 / run.temperature)  # back to the model's own probabilities
        assert calibration.nll(probs, truth, 1.0) <= calibration.nll(raw, truth, 1.0) + 1e-6  # fitted on these
        curves = evaluation.curve_data(ws.conn, run.id, "val")
        assert curves["temperature"] == run.temperature and curves["uncalibrated"] is not None
        assert curves["uncalibrated"]["ece"] == pytest.approx(metrics.reliability(truth, raw)["ece"])
        # the served model (its head divided by T) gives the stored probabilities for a stored photo
        predictor = predict.load_predictor(ws, run.id)
        items = {it.image_id: it for it in runs.snapshot(ws.conn, run.id)}
        row = stored[0]
        (got,) = predict.predict(predictor, [ws.layout.cached(items[row["image_id"]].sha256)])
        assert list(got.probs.values()) == pytest.approx(row["probs"], abs=2e-3)
    finally:
        ws.close()


@pytest.mark.slow  # trains a tiny model and exports it
def test_the_exported_model_reproduces_the_stored_probabilities_through_onnxruntime(tmp_path, monkeypatch):
    import onnxruntime
    import torch

    from core.ml import export, transforms

    monkeypatch.setattr(calibration, "MIN_PHOTOS", 2)
    ws = open_workspace(tmp_path / "ws")
    try:
        run = runs.get_run(ws.conn, promoted_tiny_run(ws).id)
        assert run.temperature != 1.0
        out = tmp_path / "model.onnx"
        card = export.export_run(ws, ADMIN, run.id, "onnx", out)
        assert card["temperature"] == run.temperature
        assert json.loads((tmp_path / "model.onnx.card.json").read_text())["temperature"] == run.temperature
        predictor = predict.load_predictor(ws, run.id, device="cpu")
        items = {it.image_id: it for it in runs.snapshot(ws.conn, run.id)}
        session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        tf = transforms.eval_transform(predictor.spec.preprocess)
        from core import imaging

        for row in runs.predictions(ws.conn, run.id)[:6]:
            pixels = imaging.model_input(
                ws.layout.cached(items[row["image_id"]].sha256), predictor.spec.preprocess.size
            )
            batch = tf(torch.from_numpy(pixels))[None].numpy()
            logits = session.run(None, {"image": batch})[0]
            assert _softmax(logits)[0] == pytest.approx(row["probs"], abs=2e-3)
    finally:
        ws.close()
