"""One diagnosis for the Diagnose page: decode, quality check, prediction, Grad-CAM, report, save to dataset."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field, replace

from PIL import Image

from core import auth, explain, health, imaging, ingest, predict
from core.workspace import Workspace


@dataclass
class Diagnosis:
    name: str
    data: bytes
    image: Image.Image
    width: int
    height: int
    issues: list[str]
    result: predict.Prediction
    cam: explain.Explanation | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def report(self) -> dict[str, object]:
        """The JSON report a user downloads (and the row of the results table)."""
        return {"file": self.name, "label": self.result.label, "top": self.result.top, "probs": self.result.probs,
                "defect": self.result.defect, "unfit": self.issues, "ms": round(self.result.ms, 1),
                "width": self.width, "height": self.height,
                "cam": {"method": self.cam.method, "target": self.cam.target} if self.cam else None}

    def report_json(self) -> bytes:
        return json.dumps(self.report(), ensure_ascii=False, indent=2).encode()

    def overlay_png(self) -> bytes:
        out = io.BytesIO()
        (self.cam.overlay if self.cam else self.image).save(out, format="PNG")
        return out.getvalue()


@dataclass(frozen=True)
class CamSettings:
    method: str = "gradcam"
    target: int | None = None  # None: the likeliest class
    opacity: float = 0.45
    colormap: str = "jet"


def diagnose(ws: Workspace, predictor: predict.Predictor, name: str, data: bytes, tta: bool = False,
             cam: CamSettings | None = None) -> Diagnosis:
    """Decode with the import checks (raises RejectedFile with a reason), judge quality, predict and, when asked,
    explain. Grad-CAM and the probabilities come from one forward pass (the fast CAM methods without TTA)."""
    decoded = imaging.decode(data, ws.settings.max_pixels, ws.settings.cache_px)
    signals = imaging.derive(decoded.image, ws.settings.thumb_px)
    issues = health.photo_issues(decoded.width, decoded.height, signals.brightness, signals.sharpness)
    start = time.perf_counter()
    shown = None
    if cam is not None:
        shown = explain.explain(predictor, decoded.image, cam.method, cam.target, cam.opacity, cam.colormap,
                                stored=signals.cached_jpeg)
    if shown is not None and shown.probs is not None and not tta:
        result = predict.decide(predictor, shown.probs, (time.perf_counter() - start) * 1000)
    else:
        result = predict.predict(predictor, [signals.cached_jpeg], tta=tta)[0]
    return Diagnosis(name, data, decoded.image, decoded.width, decoded.height, issues, result, shown)


def restyle(diagnosis: Diagnosis, opacity: float, colormap: str) -> Diagnosis:
    """The same diagnosis with the heatmap blended anew (opacity, colour map): no model call."""
    if diagnosis.cam is None:
        return diagnosis
    cam = replace(diagnosis.cam, overlay=explain.overlay(diagnosis.image, diagnosis.cam.mask, opacity, colormap))
    return replace(diagnosis, cam=cam)


def save_with_label(ws: Workspace, actor: auth.Actor, diagnosis: Diagnosis, label: str) -> ingest.ImportReport:
    """'Wrong? save with the right label': the photo joins the dataset with that label (source diagnose)."""
    return ingest.import_uploads(ws, actor, [(diagnosis.name, diagnosis.data)], label=label,
                                 image_source="diagnose", event_source="diagnose")
