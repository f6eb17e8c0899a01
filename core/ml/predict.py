"""The production model (or a chosen run), loaded once per process; batched prediction with the operating point.

Photos go through the same path as training: decode with draft mode to the working size, the workspace's
working copy (JPEG q92), resize to the model's square input, the eval preset. The decision at the operating
point flags a defect whenever P(normal) is below the run's threshold, even when normal is the likeliest class.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core import evaluation, familiarity_cut, imaging, metrics, runs
from core.errors import NotFoundError, ValidationError
from core.ml import checkpoint, familiarity, models, runtime, transforms
from core.workspace import Workspace


@dataclass
class Predictor:
    run: runs.Run
    spec: models.ModelSpec
    class_names: tuple[str, ...]
    threshold: float | None  # on P(normal); None: plain arg-max
    device: torch.device
    index: familiarity.Index | None = None  # the run's training photos, for each photo's familiarity
    cut: float = familiarity.DEFAULT_PERCENTILE  # past this percentile of validation a photo is unfamiliar

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
    familiarity: familiarity.Familiarity | None = None  # None: the run has no index (no validation photos)

    @property
    def unfamiliar(self) -> bool:
        """Unlike anything the model was trained on: the verdict is "check the photo", never a pass."""
        return self.familiarity is not None and self.familiarity.unfamiliar


def load_predictor(ws: Workspace, run_id: int | None = None, device: str | None = None) -> Predictor:
    """The given run, else the production run; raises NotFoundError with what to do when there is none."""
    runtime.tune_allocator()
    run_id = run_id or runs.production_run_id(ws.conn)
    if run_id is None:
        raise NotFoundError(
            "there is no production model yet: train one (or a quick model) on the Train page "
            "and promote it on the Evaluate page, or pass --run",
            key="diagnose.no_model",
        )
    run = runs.get_run(ws.conn, run_id)
    if not run.finished or not run.checkpoint:
        raise ValidationError(
            f"run {run_id} has not finished; it has no model to predict with",
            key="diagnose.error.unfinished",
            run=run_id,
        )
    saved = checkpoint.load(ws.settings.workspace / run.checkpoint)
    pre = saved["preprocess"]
    spec = models.build(
        saved["arch"],
        len(saved["class_names"]),
        pretrained=False,
        image_size=pre["size"],
        pooling=saved.get("pooling", "avg"),
    )
    spec.model.load_state_dict(saved["model"])
    _fold_temperature(spec, float(saved.get("temperature", 1.0)))
    chosen = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    spec.model.eval().requires_grad_(False).to(chosen)  # inference only: Grad-CAM differentiates activations
    point = evaluation.operating_point(ws.conn, run) if evaluation.NORMAL in run.class_names else None
    familiarity.attach(spec)
    _warm_up(spec.model, spec.preprocess.size, chosen)
    index = familiarity.index_for(ws, run, spec, chosen)
    threshold = point.threshold if point else None
    cut = familiarity_cut.cut_percentile(ws.conn)
    return Predictor(run, spec, tuple(saved["class_names"]), threshold, chosen, index, cut)


def _fold_temperature(spec: models.ModelSpec, temperature: float) -> None:
    """Divide the head by the run's temperature: every path that reads the logits (prediction, Grad-CAM,
    inspection, the ONNX and TorchScript exports) then gives the calibrated probabilities stored for the run."""
    if temperature != 1.0:
        with torch.no_grad():
            spec.head.weight.div_(temperature)
            if spec.head.bias is not None:
                spec.head.bias.div_(temperature)


def _warm_up(model: torch.nn.Module, size: int, device: torch.device) -> None:
    """One forward of a blank photo at load time: the first call pays for allocations and kernel choices, and
    would otherwise be the one photo whose time per photo is several times the others'."""
    with torch.inference_mode():
        model(torch.zeros(1, 3, size, size, device=device))
    familiarity.taken()  # the blank photo's features are nobody's


PhotoInput = Image.Image | bytes | Path  # a decoded photo, or the bytes / path of a stored working copy


def prepare(predictor: Predictor, photos: list[PhotoInput]) -> torch.Tensor:
    """Photos → the normalised batch the model was trained on. A decoded photo first becomes the working copy
    the workspace would store (imaging.stored_copy), so a photo gets the same answer before and after import."""
    size = predictor.spec.preprocess.size
    tf = transforms.eval_transform(predictor.spec.preprocess)
    arrays = [
        imaging.model_input(imaging.stored_copy(p.convert("RGB")) if isinstance(p, Image.Image) else p, size)
        for p in photos
    ]
    return torch.stack([tf(torch.from_numpy(a)) for a in arrays]).to(predictor.device)


def familiar_rows(predictor: Predictor) -> list[familiarity.Familiarity] | None:
    """The familiarity of each photo of this thread's last forward of the predictor's model; None without index."""
    rows = familiarity.taken()
    if predictor.index is None or rows is None:
        return None
    return predictor.index.judge(rows, predictor.cut)


def make_prediction(
    predictor: Predictor, probs: np.ndarray, ms: float, familiar: familiarity.Familiarity | None = None
) -> Prediction:
    """One photo's class probabilities (and its familiarity) → the decision at the operating point."""
    top = int(probs.argmax())
    decision = top
    if predictor.normal is not None and predictor.threshold is not None:
        decision = int(metrics.apply_threshold(probs[None, :], predictor.normal, predictor.threshold)[0])
    return Prediction(
        predictor.class_names[decision],
        predictor.class_names[top],
        {c: round(float(p), 6) for c, p in zip(predictor.class_names, probs, strict=True)},
        predictor.normal is not None and decision != predictor.normal,
        ms,
        familiar,
    )


def predict(predictor: Predictor, photos: list[PhotoInput], tta: bool = False) -> list[Prediction]:
    """Probabilities, the decision at the operating point and the time per photo."""
    if not photos:
        return []
    start = time.perf_counter()
    batch = prepare(predictor, photos)
    with torch.inference_mode():
        probs = torch.softmax(predictor.spec.model(batch).float(), dim=1)
        familiar = familiar_rows(predictor) or [None] * len(photos)  # the photo as taken, not its mirror
        if tta:  # a mirrored photo is the same bolt: average both views
            probs = (probs + torch.softmax(predictor.spec.model(torch.flip(batch, dims=[3])).float(), dim=1)) / 2
            familiarity.taken()
    probs_np = probs.cpu().numpy()
    ms = (time.perf_counter() - start) * 1000 / len(photos)
    return [make_prediction(predictor, row, ms, f) for row, f in zip(probs_np, familiar, strict=True)]


def served_cpu_ms(ws: Workspace, run_ids: list[int], rounds: int = 30, threads: int | None = None) -> dict[int, float]:
    """Median ms per photo of each run's served model (temperature folded in) on the CPU, batch 1, the runs
    taking turns (runtime.interleaved_cpu_ms): how two runs compare in speed, measured in one process."""
    loaded = {r: load_predictor(ws, r, device="cpu").spec for r in run_ids}
    return runtime.interleaved_cpu_ms(
        {r: (spec.model, spec.preprocess.size) for r, spec in loaded.items()}, rounds, threads
    )
