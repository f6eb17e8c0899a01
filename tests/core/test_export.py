"""`export RUN --format onnx|torchscript`: numerically equal to PyTorch, with a complete model card."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnxruntime
import pytest
import torch

from core import demo, evaluation, jobs, predict, runs
from tests.conftest import ROOT
from tests.core.train_helpers import ADMIN, add_demo, run_job_here, tiny_config


@pytest.fixture
def production(ws):
    add_demo(ws, 45)
    job_id = jobs.submit(ws.conn, ADMIN, tiny_config(epochs=2))
    assert run_job_here(ws, job_id) == "done"
    run = runs.run_for_job(ws.conn, job_id)
    evaluation.promote(ws.conn, ADMIN, run.id)
    return ws, run


def cli(ws_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "--workspace", str(ws_path), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_onnx_equals_pytorch_and_the_card_holds_every_field(production, tmp_path):
    ws, run = production
    out = tmp_path / "models" / "bolts.onnx"
    done = cli(ws.settings.workspace, "export", str(run.id), "--format", "onnx", "--out", str(out))
    assert done.returncode == 0, done.stderr
    card = json.loads((tmp_path / "models" / "bolts.onnx.card.json").read_text())
    assert card["classes"] == list(run.class_names) and card["input"]["size"] == 32
    assert len(card["input"]["mean"]) == 3 and len(card["input"]["std"]) == 3
    assert card["metrics"]["test"]["macro_f1"] == pytest.approx(run.test_macro_f1)
    assert card["operating_point"]["threshold"] == pytest.approx(predict.load(ws).threshold)
    assert len(card["dataset_snapshot"]["id"]) == 16 and card["dataset_snapshot"]["photos"] == 45
    assert card["check"]["max_abs_diff"] <= 1e-4
    # a real photo through the documented preprocessing gives the probabilities predict gives
    predictor = predict.load(ws)
    photo = demo.render_crop(77, "missing").image
    batch = predict.prepare(predictor, [photo]).numpy()
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"image": np.concatenate([batch, batch])})[0]  # batch size is free
    probs = torch.softmax(torch.from_numpy(logits[0]), dim=0).numpy()
    np.testing.assert_allclose(probs, list(predict.predict(predictor, [photo])[0].probs.values()), atol=1e-4)
    assert not list(out.parent.glob(".tmp-*"))


def test_torchscript_export_and_bad_requests(production, tmp_path):
    ws, run = production
    out = tmp_path / "bolts.pt"
    done = cli(ws.settings.workspace, "export", str(run.id), "--format", "torchscript", "--out", str(out))
    assert done.returncode == 0, done.stderr
    loaded = torch.jit.load(str(out)).eval()
    sample = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        np.testing.assert_allclose(loaded(sample).numpy(), predict.load(ws).spec.model(sample).numpy(), atol=1e-5)
    for args in (("99", "--format", "onnx", "--out", str(tmp_path / "x.onnx")),
                 (str(run.id), "--format", "onnx"),
                 ("photos", "--format", "onnx", "--out", str(tmp_path / "y.onnx"))):
        failed = cli(ws.settings.workspace, "export", *args)
        assert failed.returncode == 2 and "error:" in failed.stderr, args
