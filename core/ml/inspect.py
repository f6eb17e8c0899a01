"""Whole-photo inspection in the torch tier: align to the station, crop each position, judge all in one batch."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from core import align, auth, imaging, inspection_report, inspections, stations
from core.errors import RejectedFile, ValidationError
from core.ml import explain, predict
from core.workspace import Workspace

# Whole photos are decoded at their full size: the station's boxes are in the reference's own pixels and the
# record keeps each position's box in the photo's own pixels. The decode gate still bounds the memory.
FULL_SIZE = 1 << 20
# class-specific CAM methods batch exactly (one backward of the summed target logits); Eigen-CAM has no target
# and its principal component's sign is not stable under the last bits of a batched convolution
BATCHED = tuple(m for m in explain.FAST if m != "eigencam")


@dataclass(frozen=True)
class Judged:
    prediction: predict.Prediction
    mask: np.ndarray | None  # Grad-CAM mask at model input size, in [0, 1]; None when cams=False
    target: str | None = None  # the class the mask explains: the decision at the operating point
    crop: Image.Image | None = None  # what the model saw, before its resize (for thumbnails and overlays)


@dataclass(frozen=True)
class Setup:
    """What every photo of one station needs, loaded once: the station, its reference photo and its model."""

    station: stations.Station
    reference: Image.Image
    predictor: predict.Predictor


def judge(
    predictor: predict.Predictor, crops: Sequence[Image.Image], cams: bool = True, method: str = "gradcam"
) -> list[Judged]:
    """Every crop in ONE forward pass and, with cams, ONE backward pass: the gradient of the sum of each crop's
    own target logit. In eval mode a sample's logits depend on its own activations only, so the gradients of
    different crops do not mix and each mask equals the one explain.cam_mask makes for that crop alone.
    Each mask explains the crop's decision at the operating point (what the inspector is shown)."""
    if not crops:
        return []
    if cams and method not in BATCHED:
        raise ValidationError(
            f"CAM method {method!r} cannot be batched; valid: {', '.join(BATCHED)}",
            key="inspect.judge.error.method",
            method=method,
            valid=", ".join(explain.NAMES[m] for m in BATCHED),
        )
    start = time.perf_counter()
    batch = predict.prepare(predictor, list(crops))
    if not cams:
        with torch.inference_mode():
            probs = torch.softmax(predictor.spec.model(batch).float(), dim=1).cpu().numpy()
        familiar = predict.familiar_rows(predictor) or [None] * len(crops)
        ms = (time.perf_counter() - start) * 1000 / len(crops)
        return [
            Judged(predict.make_prediction(predictor, row, ms, f), None, crop=c)
            for row, f, c in zip(probs, familiar, crops, strict=True)
        ]
    logits, activation = explain._capture(predictor.spec.cam_target_layers[-1]).run(predictor.spec.model, batch)
    familiar = predict.familiar_rows(predictor) or [None] * len(crops)
    probs = torch.softmax(logits.detach().float(), dim=1).cpu().numpy()
    decided = [predict.make_prediction(predictor, row, 0.0) for row in probs]
    targets = [predictor.class_names.index(p.label) for p in decided]
    masks = _masks(logits, activation, targets, method, (batch.shape[-1], batch.shape[-2]))
    ms = (time.perf_counter() - start) * 1000 / len(crops)
    return [
        Judged(predict.make_prediction(predictor, row, ms, f), mask, p.label, c)
        for row, f, mask, p, c in zip(probs, familiar, masks, decided, crops, strict=True)
    ]


def _masks(
    logits: torch.Tensor, activation: torch.Tensor, targets: list[int], method: str, size: tuple[int, int]
) -> list[np.ndarray]:
    """One backward for the whole batch, then each crop's map by the method's formula (explain's, per sample),
    normalised and resized to the model input as explain.compute does for one photo."""
    rows = torch.arange(len(targets), device=logits.device)
    chosen = logits[rows, torch.tensor(targets, device=logits.device)]
    grads = torch.autograd.grad(chosen.sum(), activation)[0].float()
    acts = activation.detach().float()
    masks = []
    for i in range(len(targets)):
        small = explain._combine(method, acts[i], grads[i]).clamp(min=0).cpu().numpy()
        mask = explain._normalise(cv2.resize(explain._normalise(small).astype(np.float32), size))
        masks.append(np.clip(np.nan_to_num(mask.astype(np.float32)), 0.0, 1.0))
    return masks


def inspect_photo(  # noqa: PLR0913 (the contract's keyword-only signature, INSPECT_SPEC.md)
    predictor: predict.Predictor,
    station: stations.Station,
    reference: Image.Image,
    photo: Image.Image,
    *,
    photo_sha256: str,
    photo_name: str,
    asset: str,
    alignment: align.Alignment | None = None,
    cams: bool = True,
) -> tuple[inspections.InspectionResult, list[Judged | None]]:
    """Align (unless an alignment is given: a manual fix), crop every position, judge the fit ones in one batch.
    Nothing is cropped from a refused alignment: every position is then unfit ("alignment"); a position whose
    crop leaves the photo is unfit ("outside"). An unfit position counts as a defect: never a silent pass."""
    photo = photo.convert("RGB")
    boxes = [p.box for p in station.positions]
    found = alignment if alignment is not None else align.align(reference, photo, boxes)
    crops = [align.crop(photo, found, box, margin=station.margin) if found.ok else None for box in boxes]
    fit = [i for i, c in enumerate(crops) if c is not None]
    judged: dict[int, Judged] = dict(
        zip(fit, judge(predictor, [crops[i] for i in fit], cams), strict=True)  # type: ignore[misc]
    )
    unfit = "outside" if found.ok else "alignment"
    results = tuple(_position(found, position, judged.get(i), unfit) for i, position in enumerate(station.positions))
    result = inspections.InspectionResult(
        photo_sha256=photo_sha256,
        photo_name=photo_name,
        size=photo.size,
        station=station,
        asset=asset,
        alignment=found,
        positions=results,
        run_id=predictor.run.id,
        threshold=predictor.threshold,
    )
    return result, [judged.get(i) for i in range(len(boxes))]


def _position(
    found: align.Alignment, position: stations.Position, judged: Judged | None, unfit: str
) -> inspections.PositionResult:
    box, corners = align.bounding_box(found, position.box), align.corners(found, position.box)
    if judged is None:
        return inspections.PositionResult(position.name, box, corners, None, True, {}, unfit)
    p = judged.prediction
    familiar = p.familiarity.to_json() if p.familiarity is not None else None
    return inspections.PositionResult(position.name, box, corners, p.label, p.defect, dict(p.probs), None, familiar)


def decode_photo(ws: Workspace, data: bytes, name: str = "photo") -> Image.Image:
    """The project's guarded decode at the photo's full size, upright; a refused photo is bad input
    (ValidationError with the import's reason key, as a station's reference photo is refused)."""
    try:
        return imaging.decode(data, ws.settings.max_pixels, FULL_SIZE, ws.settings.max_decode_mb).image
    except RejectedFile as exc:
        raise ValidationError(f"photo {name!r} refused: {exc}", key=exc.reason_key, **exc.detail) from exc


def load_setup(ws: Workspace, station_name: str) -> Setup:
    """The station's newest version, its reference photo and its model (station.run_id, else production)."""
    station = stations.get_station(ws.conn, station_name)
    _, data = stations.read_photo(stations.reference_path(ws, station), ws.settings.max_file_bytes)
    reference = decode_photo(ws, data, f"{station.name} reference")
    return Setup(station, reference, predict.load_predictor(ws, station.run_id))


def inspect_data(
    ws: Workspace,
    actor: auth.Actor,
    setup: Setup,
    name: str,
    data: bytes,
    asset: str = "",
    cams: bool = False,
) -> tuple[int, inspections.InspectionResult, list[Judged | None]]:
    """One photo's bytes (a file, an upload, an API call): decode, inspect, record; the record's id first."""
    auth.require(actor, "inspect", ws.conn)  # before any work: the record would refuse it anyway
    photo = decode_photo(ws, data, name)
    result, judged = inspect_photo(
        setup.predictor,
        setup.station,
        setup.reference,
        photo,
        photo_sha256=hashlib.sha256(data).hexdigest(),
        photo_name=name,
        asset=asset,
        cams=cams,
    )
    return inspections.record_inspection(ws, actor, result, data), result, judged


def inspect_files(
    ws: Workspace,
    actor: auth.Actor,
    station_name: str,
    photos: Sequence[Path],
    asset: str = "",
    cams: bool = False,
) -> Iterator[tuple[int, inspections.InspectionResult]]:
    """Inspect and record photo files one by one with the station's model, loaded once; with `cams` each
    position's crop and heatmap are kept with the record (keep_views).
    A photo that is unreadable or refused raises ValidationError; callers that go on past it use inspect_data."""
    auth.require(actor, "inspect", ws.conn)
    setup = load_setup(ws, station_name)
    for path in photos:
        name, data = stations.read_photo(Path(path), ws.settings.max_file_bytes)
        inspection_id, result, judged = inspect_data(ws, actor, setup, name, data, asset, cams)
        if cams:
            keep_views(ws, inspection_id, judged)
        yield inspection_id, result


def keep_views(ws: Workspace, inspection_id: int, judged: Sequence[Judged | None]) -> None:
    """Keep each judged position's crop and its heatmap over it with the record, for the page and the report."""
    crops = [j.crop if j else None for j in judged]
    heat = [
        explain.overlay(j.crop, j.mask) if j and j.crop is not None and j.mask is not None else None for j in judged
    ]
    inspection_report.save_views(ws, inspection_id, crops, heat)
