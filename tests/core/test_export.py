"""`export RUN --format onnx|torchscript`: numerically equal to PyTorch, with a complete model card."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import onnxruntime
import pytest
import torch

from core import demo
from core.ml import predict
from tests.core.train_helpers import promoted_tiny_run, run_cli


@pytest.fixture
def production(ws):
    return ws, promoted_tiny_run(ws)


def cli(ws_path, *args: str) -> subprocess.CompletedProcess:
    return run_cli(ws_path, *args, timeout=300)


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_onnx_equals_pytorch_and_the_card_holds_every_field(production, tmp_path):
    ws, run = production
    out = tmp_path / "models" / "bolts.onnx"
    done = cli(ws.settings.workspace, "export", str(run.id), "--format", "onnx", "--out", str(out))
    assert done.returncode == 0, done.stderr
    card = json.loads((tmp_path / "models" / "bolts.onnx.card.json").read_text())
    assert card["classes"] == list(run.class_names) and card["input"]["size"] == 32
    assert len(card["input"]["mean"]) == 3 and len(card["input"]["std"]) == 3
    assert card["metrics"]["test"]["macro_f1"] == pytest.approx(run.test_macro_f1)
    assert card["operating_point"]["threshold"] == pytest.approx(predict.load_predictor(ws).threshold)
    assert len(card["dataset_snapshot"]["id"]) == 16 and card["dataset_snapshot"]["photos"] == 45
    assert card["check"]["max_abs_diff"] <= 1e-4
    # a real photo through the documented preprocessing gives the probabilities predict gives
    predictor = predict.load_predictor(ws)
    photo = demo.render_crop(77, "missing").image
    batch = predict.prepare(predictor, [photo]).numpy()
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"image": np.concatenate([batch, batch])})[0]  # batch size is free
    probs = torch.softmax(torch.from_numpy(logits[0]), dim=0).numpy()
    np.testing.assert_allclose(probs, list(predict.predict(predictor, [photo])[0].probs.values()), atol=1e-4)
    assert not list(out.parent.glob(".tmp-*"))


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_torchscript_export_and_bad_requests(production, tmp_path):
    ws, run = production
    out = tmp_path / "bolts.pt"
    done = cli(ws.settings.workspace, "export", str(run.id), "--format", "torchscript", "--out", str(out))
    assert done.returncode == 0, done.stderr
    loaded = torch.jit.load(str(out)).eval()
    sample = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        expected = predict.load_predictor(ws).spec.model(sample).numpy()
        np.testing.assert_allclose(loaded(sample).numpy(), expected, atol=1e-5)
    for args in (
        ("99", "--format", "onnx", "--out", str(tmp_path / "x.onnx")),
        (str(run.id), "--format", "onnx"),
        ("photos", "--format", "onnx", "--out", str(tmp_path / "y.onnx")),
    ):
        failed = cli(ws.settings.workspace, "export", *args)
        assert failed.returncode == 2 and "error:" in failed.stderr, args
