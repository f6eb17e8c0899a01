"""The production model (or a chosen run), loaded once per process; batched prediction with the operating point.

Photos go through the same path as training: decode with draft mode to the working size, resize to the
model's square input, the eval preset. The decision at the operating point flags a defect whenever
P(normal) is below the run's threshold, even when normal is the likeliest class.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core import checkpoint, evaluation, imaging, metrics, models, runs, runtime, transforms
from core.errors import NotFoundError, ValidationError
from core.workspace import Workspace


@dataclass
class Predictor:
    run: runs.Run
    spec: models.ModelSpec
    class_names: tuple[str, ...]
    threshold: float | None  # on P(normal); None: plain arg-max
    device: torch.device

    @property
    def normal(self) -> int | None:
        return self.class_names.index(evaluation.NORMAL) if evaluation.NORMAL in self.class_names else None


@dataclass(frozen=True)
class Prediction:
    label: str  # the decision at the operating point
    top: str  # the likeliest class
    probs: dict[str, float]
    defect: bool
    ms: float


def load(ws: Workspace, run_id: int | None = None, device: str | None = None) -> Predictor:
    """The given run, else the production run; raises NotFoundError with what to do when there is none."""
    runtime.tune_allocator()
    run_id = run_id or runs.production_run_id(ws.conn)
    if run_id is None:
        raise NotFoundError("there is no production model yet: train one (or a quick model) on the Train page "
                            "and promote it on the Evaluate page, or pass --run")
    run = runs.get_run(ws.conn, run_id)
    if not run.finished or not run.checkpoint:
        raise ValidationError(f"run {run_id} has not finished; it has no model to predict with")
    saved = checkpoint.load(ws.settings.workspace / run.checkpoint)
    pre = saved["preprocess"]
    spec = models.build(saved["arch"], len(saved["class_names"]), pretrained=False, image_size=pre["size"],
                        pooling=saved.get("pooling", "avg"))
    spec.model.load_state_dict(saved["model"])
    chosen = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    spec.model.eval().to(chosen)
    point = evaluation.operating_point(ws.conn, run) if evaluation.NORMAL in run.class_names else None
    return Predictor(run, spec, tuple(saved["class_names"]), point.threshold if point else None, chosen)


def prepare(predictor: Predictor, images: list[Image.Image]) -> torch.Tensor:
    """RGB photos → the normalised batch the model was trained on."""
    size = predictor.spec.preprocess.size
    tf = transforms.eval_transform(predictor.spec.preprocess)
    arrays = [np.array(im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0),
                       dtype=np.uint8).transpose(2, 0, 1) for im in images]
    return torch.stack([tf(torch.from_numpy(a)) for a in arrays]).to(predictor.device)


def predict(predictor: Predictor, images: list[Image.Image], tta: bool = False) -> list[Prediction]:
    """Probabilities, the decision at the operating point and the time per photo."""
    if not images:
        return []
    start = time.perf_counter()
    batch = prepare(predictor, images)
    with torch.inference_mode():
        probs = torch.softmax(predictor.spec.model(batch).float(), dim=1)
        if tta:  # a mirrored photo is the same bolt: average both views
            probs = (probs + torch.softmax(predictor.spec.model(torch.flip(batch, dims=[3])).float(), dim=1)) / 2
    probs_np = probs.cpu().numpy()
    ms = (time.perf_counter() - start) * 1000 / len(images)
    out = []
    for row in probs_np:
        top = int(row.argmax())
        decision = top
        if predictor.normal is not None and predictor.threshold is not None:
            decision = int(metrics.decide(row[None, :], predictor.normal, predictor.threshold)[0])
        label = predictor.class_names[decision]
        out.append(Prediction(label, predictor.class_names[top],
                              {c: round(float(p), 6) for c, p in zip(predictor.class_names, row, strict=True)},
                              predictor.normal is not None and decision != predictor.normal, ms))
    return out


def read_photo(path: Path, max_pixels: int, working_px: int = 1024) -> Image.Image:
    """Decode a photo file the way ingest does (draft mode, EXIF orientation, checks)."""
    return imaging.decode(path.read_bytes(), max_pixels, working_px).image
