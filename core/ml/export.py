"""ONNX and TorchScript export of a run, checked numerically against PyTorch, with a model card JSON."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import warnings
from pathlib import Path
from typing import TypedDict

import numpy as np
import torch

from core import audit, auth, config, db, evaluation, imaging, intervals, runs
from core.errors import StorageError, ValidationError
from core.files import TMP_PREFIX, write_atomic
from core.ml import predict
from core.workspace import Workspace

FORMATS = config.EXPORT_FORMATS
TOLERANCE = 1e-4  # max abs difference of the logits, exported vs PyTorch


def _snapshot_id(ws: Workspace, run_id: int) -> str:
    """A fingerprint of what the run was trained and tested on: every (photo hash, label, split)."""
    digest = hashlib.sha256()
    for item in runs.snapshot(ws.conn, run_id):
        digest.update(f"{item.sha256}:{item.label}:{item.split}\n".encode())
    return digest.hexdigest()[:16]


def _onnx(model: torch.nn.Module, sample: torch.Tensor, path: Path) -> np.ndarray:
    import onnxruntime

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter announces its deprecation
        torch.onnx.export(
            model,
            (sample[:1],),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": sample.numpy()})[0]


def _torchscript(model: torch.nn.Module, sample: torch.Tensor, path: Path) -> np.ndarray:
    traced = torch.jit.trace(model, sample[:1])
    traced.save(str(path))
    with torch.inference_mode():
        return torch.jit.load(str(path)).eval()(sample).numpy()


class ModelCard(TypedDict):
    """The model card written next to an exported model (JSON): what the file expects, what it gives back,
    how good it was, where it came from, and the numerical check of the export against PyTorch."""

    format: str
    file: str
    run_id: int
    arch: str
    classes: list[str]
    input: dict[str, object]
    output: str
    metrics: dict[str, dict[str, float | None]]
    temperature: float  # fitted on validation (core.calibration), already applied to the exported logits
    distilled_from: int | None  # the teacher run of a distilled student; None otherwise
    operating_point: dict[str, object] | None
    defect_recall: intervals.RecallCard | None  # at the operating point, on validation and test, 95% intervals
    false_alarm_rate: intervals.RatesCard | None
    dataset_snapshot: dict[str, object]
    check: dict[str, float | int]
    versions: dict[str, str]
    exported_by: str
    exported_at: str


def _rates(
    ws: Workspace, run: runs.Run, threshold: float | None
) -> tuple[intervals.RecallCard | None, intervals.RatesCard | None]:
    """The card's defect recall and false-alarm rate with their intervals, at the threshold the model ships with."""
    point = evaluation.operating_point(ws.conn, run) if threshold is not None else None
    if point is None:
        return None, None
    return intervals.card_rates(intervals.point_rates(ws.conn, run, point))


def export_run(ws: Workspace, actor: auth.Actor, run_id: int, fmt: str, out: Path) -> ModelCard:
    """Write the model to out (atomically) and its card to out + '.card.json'; returns the card."""
    auth.require(actor, "export")
    if fmt not in FORMATS:
        raise ValidationError(f"format {fmt!r} is unknown; valid: {', '.join(FORMATS)}")
    predictor = predict.load_predictor(ws, run_id, device="cpu")
    model, pre = predictor.spec.model.eval(), predictor.spec.preprocess
    sample = torch.randn(3, 3, pre.size, pre.size, generator=torch.Generator().manual_seed(0))
    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{out.name}")
    try:
        exported = (_onnx if fmt == "onnx" else _torchscript)(model, sample, tmp)
        with torch.inference_mode():
            reference = model(sample).numpy()
        diff = float(np.abs(exported - reference).max())
        if diff > TOLERANCE:
            raise ValidationError(f"the {fmt} model differs from PyTorch by {diff:.2e} (> {TOLERANCE:g}); not written")
        os.replace(tmp, out)
    except OSError as exc:
        raise StorageError(f"cannot write {out}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    run = predictor.run
    recall, false_alarm = _rates(ws, run, predictor.threshold)
    card: ModelCard = {
        "format": fmt,
        "file": out.name,
        "run_id": run.id,
        "arch": run.arch,
        "classes": list(predictor.class_names),
        "input": {
            "size": pre.size,
            "mean": list(pre.mean),
            "std": list(pre.std),
            "layout": "NCHW float32 RGB",
            "preprocessing": f"decode upright (EXIF), longest side at most {ws.settings.cache_px} px, "
            f"JPEG quality {imaging.CACHE_QUALITY} working copy, resize the whole photo "
            f"to {pre.size}x{pre.size} (bilinear), scale to 0..1, subtract mean and divide "
            "by std per channel",
        },
        "output": "logits already divided by the temperature; softmax gives the calibrated class probabilities "
        "in the order of classes",
        "temperature": run.temperature if run.temperature is not None else 1.0,
        "distilled_from": run.config.teacher_run,
        "metrics": {
            "val": {"accuracy": run.val_accuracy, "macro_f1": run.val_macro_f1},
            "test": {"accuracy": run.test_accuracy, "macro_f1": run.test_macro_f1},
        },
        "operating_point": (
            {
                "class": evaluation.NORMAL,
                "threshold": predictor.threshold,
                "rule": "normal only when P(normal) >= threshold, else the likeliest defect class",
            }
            if predictor.threshold is not None
            else None
        ),
        "defect_recall": recall,
        "false_alarm_rate": false_alarm,
        "dataset_snapshot": {"id": _snapshot_id(ws, run.id), "photos": len(runs.snapshot(ws.conn, run.id))},
        "check": {"max_abs_diff": diff, "tolerance": TOLERANCE, "samples": int(sample.shape[0])},
        "versions": run.versions,
        "exported_by": actor.name,
        "exported_at": db.now_iso(),
    }
    write_atomic(out.with_name(out.name + ".card.json"), json.dumps(card, indent=2, ensure_ascii=False).encode())
    audit.record_now(ws.conn, actor.name, "export", f"run {run.id}", format=fmt, file=out.name, max_abs_diff=diff)
    return card


def export_to_workspace(ws: Workspace, actor: auth.Actor, run_id: int, fmt: str) -> tuple[Path, ModelCard]:
    """Export into the workspace's exports folder (the Evaluate page offers it for download from there)."""
    if fmt not in FORMATS:
        raise ValidationError(f"format {fmt!r} is unknown; valid: {', '.join(FORMATS)}")
    out = ws.layout.exports / f"run-{int(run_id):06d}{config.EXPORT_SUFFIX[fmt]}"
    return out, export_run(ws, actor, run_id, fmt, out)
