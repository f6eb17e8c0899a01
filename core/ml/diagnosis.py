"""One diagnosis for the Diagnose page: decode, quality check, prediction, Grad-CAM, report, save to dataset."""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass, field, replace

from PIL import Image

from core import auth, csvfile, evaluation, health, i18n, imaging, ingest, review
from core.errors import ValidationError
from core.ml import explain, predict
from core.workspace import Workspace

VERDICTS = ("pass", "defect", "check")  # check: the photo is unfit, whatever the model says


@dataclass
class Diagnosis:
    name: str
    data: bytes
    image: Image.Image
    width: int
    height: int
    issues: list[str]
    result: predict.Prediction  # result.ms: the span named by `timed`
    cam: explain.Explanation | None = None
    extra: dict[str, object] = field(default_factory=dict)
    timed: str = "model"  # what result.ms measured: "model", then "+mirror" (TTA), then "+<CAM method>"
    sha256: str = ""
    style: tuple[float, str] = (0.45, "jet")  # the heatmap's opacity and colour map (blended in restyle)

    @property
    def verdict(self) -> str:
        """One of VERDICTS: CHECK when the photo is unfit to judge, else DEFECT or PASS at the operating point;
        a PASS for a photo unlike anything the model was trained on is a CHECK (the familiarity gate)."""
        if self.issues:
            return "check"
        if self.result.label == evaluation.NORMAL and not self.result.defect:
            return "check" if self.result.unfamiliar else "pass"
        return "defect"

    def report(self) -> dict[str, object]:
        """The JSON report a user downloads: machine-readable keys and values, in every language."""
        return {
            "file": self.name,
            "verdict": self.verdict,
            "label": self.result.label,
            "top": self.result.top,
            "probs": self.result.probs,
            "defect": self.result.defect,
            "unfit": self.issues,
            "familiarity": self.result.familiarity.to_json() if self.result.familiarity else None,
            "ms": round(self.result.ms, 1),
            "timed": self.timed,
            "width": self.width,
            "height": self.height,
            "cam": {"method": self.cam.method, "target": self.cam.target} if self.cam else None,
        }

    def report_json(self) -> bytes:
        return json.dumps(self.report(), ensure_ascii=False, indent=2).encode()

    def overlay_png(self) -> bytes:
        """The photo with its heatmap as PNG (the photo alone without one), blended here in `style` when no
        restyle has blended it yet (the CLI)."""
        shown = self if self.cam is None or self.cam.overlay is not None else restyle(self, *self.style)
        out = io.BytesIO()
        (shown.cam.overlay if shown.cam else shown.image).save(out, format="PNG")
        return out.getvalue()


@dataclass(frozen=True)
class CamSettings:
    method: str = "gradcam"
    target: int | None = None  # None: the likeliest class
    opacity: float = 0.45
    colormap: str = "jet"


def diagnose(
    ws: Workspace,
    predictor: predict.Predictor,
    name: str,
    data: bytes,
    tta: bool = False,
    cam: CamSettings | None = None,
) -> Diagnosis:
    """Decode with the import checks (raises RejectedFile with a reason), judge quality, predict and, when asked,
    explain. Grad-CAM and the probabilities come from one forward pass (the fast CAM methods without TTA).

    result.ms is the same span for every CAM method: from the photo's working copy to the probabilities and the
    model-input-sized heatmap (every forward and backward the method needs, the mirrored photo's with TTA);
    decoding before and blending the overlay after are not in it. `timed` names what it covers.

    The heatmap comes back as its mask, not blended: restyle blends it once, in the style the user sees (and
    overlay_png in cam's style when nobody did)."""
    look = cam or CamSettings()
    explain.check_style(look.opacity, look.colormap)
    decoded = imaging.decode(data, ws.settings.max_pixels, ws.settings.cache_px)
    signals = imaging.derive(decoded.image, ws.settings.thumb_px)
    issues = health.photo_issues(decoded.width, decoded.height, signals.brightness, signals.sharpness)
    start = time.perf_counter()
    mask = probs = None
    if cam is not None:
        mask, target, probs = explain.compute(predictor, signals.cached_jpeg, cam.method, cam.target)
    familiar = predict.familiar_rows(predictor)  # from the heatmap's forward (None without one)
    if probs is None or tta:
        result = predict.predict(predictor, [signals.cached_jpeg], tta=tta)[0]
    else:
        result = predict.make_prediction(predictor, probs, 0.0, familiar[0] if familiar else None)
    result = replace(result, ms=(time.perf_counter() - start) * 1000)
    timed = "+".join(["model", *(["mirror"] if tta else []), *([cam.method] if cam else [])])
    shown = None
    if cam is not None and mask is not None:
        shown = explain.from_mask(predictor, decoded.image, mask, target, cam.method, probs)
    return Diagnosis(
        name,
        data,
        decoded.image,
        decoded.width,
        decoded.height,
        issues,
        result,
        shown,
        timed=timed,
        sha256=hashlib.sha256(data).hexdigest(),
        style=(look.opacity, look.colormap),
    )


def restyle(diagnosis: Diagnosis, opacity: float, colormap: str) -> Diagnosis:
    """The same diagnosis with its heatmap blended in this style (opacity, colour map): one blend, no model call."""
    if diagnosis.cam is None:
        return diagnosis
    return replace(
        diagnosis, cam=explain.blended(diagnosis.cam, diagnosis.image, opacity, colormap), style=(opacity, colormap)
    )


def timed_text(timed: str, lang: str) -> str:
    """What a time measured, in words: 'model + Grad-CAM', '모델 + 반전 사진 + Eigen-CAM'."""
    parts = {"model": i18n.t("diagnose.timed.model", lang), "mirror": i18n.t("diagnose.timed.mirror", lang)}
    return " + ".join(parts.get(p) or explain.NAMES.get(p, p) for p in timed.split("+"))


def table(results: list[Diagnosis], names: dict[str, str], lang: str) -> list[dict[str, object]]:
    """The results table in the user's language: headers and values translated, numbers rounded (ms to 0,
    probabilities to 3 decimals). The JSON report keeps the machine-readable keys."""

    def t(key: str, **values: object) -> str:
        return i18n.t(key, lang, **values)

    rows = []
    for found in results:
        result = found.result
        rows.append(
            {
                t("diagnose.col.file"): found.name,
                t("diagnose.col.verdict"): t(f"diagnose.verdict.{found.verdict}"),
                t("diagnose.col.label"): names.get(result.label, result.label),
                t("diagnose.col.top"): names.get(result.top, result.top),
                t("diagnose.col.defect"): t("common.yes" if result.defect else "common.no"),
                t("diagnose.col.unfit"): ", ".join(t(f"diagnose.issue.{i}") for i in found.issues) or t("common.none"),
                **{t("diagnose.col.p", label=names.get(c, c)): round(p, 3) for c, p in result.probs.items()},
                t("diagnose.col.ms"): round(result.ms),
                t("diagnose.col.timed"): timed_text(found.timed, lang),
                t("diagnose.col.size"): f"{found.width}×{found.height}",
            }
        )
    return rows


def table_csv(rows: list[dict[str, object]]) -> bytes:
    """The table as CSV in the user's language (core.csvfile: formula cells neutralised, UTF-8 with BOM)."""
    return csvfile.dicts_bytes(rows)


def save_with_label(ws: Workspace, actor: auth.Actor, diagnosis: Diagnosis, label: str) -> ingest.ImportReport:
    """'Wrong? save with the right label': the photo joins the dataset with that label (source diagnose).
    The label is the user's choice: there is no default, and none refuses."""
    auth.require(actor, "upload")  # the role first: a viewer is refused whatever the label
    if not label:
        raise ValidationError("choose the right label before saving the photo", key="diagnose.error.no_label")
    return ingest.import_uploads(
        ws, actor, [(diagnosis.name, diagnosis.data)], label=label, image_source="diagnose", event_source="diagnose"
    )


def send_to_review(ws: Workspace, actor: auth.Actor, diagnosis: Diagnosis, run_id: int) -> ingest.FileOutcome:
    """'Send to Review': a photo the model found unfamiliar joins the dataset unlabelled (source diagnose) and
    waits in the Review queue for a person's label, with the model's answer and its familiarity percentile.
    A photo stored already (a duplicate) is sent as it is; a refused file is not sent."""
    auth.require(actor, "upload", ws.conn)
    if not diagnosis.result.unfamiliar:
        raise ValidationError(
            f"{diagnosis.name} is familiar to the model: save it with its label instead",
            key="diagnose.error.familiar",
            name=diagnosis.name,
        )
    outcome = ingest.import_uploads(
        ws, actor, [(diagnosis.name, diagnosis.data)], label=None, image_source="diagnose", event_source="diagnose"
    ).outcomes[0]
    if outcome.image_id is not None:
        familiar = diagnosis.result.familiarity
        percentile = familiar.percentile if familiar else None
        review.request_review(ws.conn, actor, outcome.image_id, "unfamiliar", run_id, percentile, diagnosis.result.top)
    return outcome
