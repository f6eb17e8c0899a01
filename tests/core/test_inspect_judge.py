"""Judging a whole photo: every position in one batched forward (and one batched Grad-CAM backward), the same
decisions and masks as one crop at a time, and the unfit positions of a refused or partial alignment."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from core import align, demo, stations
from core.errors import ValidationError
from core.ml import explain, models, predict
from core.ml import inspect as inspection

CLASSES = ("normal", "broken", "missing")
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def predictor_for(arch: str = "tiny_cnn", threshold: float | None = 0.6, size: int = 64) -> predict.Predictor:
    torch.manual_seed(0)
    spec = models.build(arch, len(CLASSES), pretrained=False, image_size=size)
    spec.model.eval().requires_grad_(False)
    run = SimpleNamespace(id=7)
    return predict.Predictor(run, spec, CLASSES, threshold, torch.device("cpu"))  # type: ignore[arg-type]


def crops(n: int = 6) -> list[Image.Image]:
    return [demo.render_crop(seed, CLASSES[seed % 3]).image for seed in range(n)]


@pytest.fixture(scope="module")
def tiny() -> predict.Predictor:
    return predictor_for()


def counting(predictor: predict.Predictor, monkeypatch) -> dict[str, list[int]]:
    """Count the model's forward passes (with their batch sizes) and the backward passes Grad-CAM takes."""
    calls: dict[str, list[int]] = {"forward": [], "backward": []}
    handle = predictor.spec.model.register_forward_hook(lambda _m, args, _o: calls["forward"].append(len(args[0])))
    grad = torch.autograd.grad

    def counted(outputs, inputs, *args, **kwargs):
        calls["backward"].append(1)
        return grad(outputs, inputs, *args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", counted)
    monkeypatch.setattr("core.ml.inspect.torch.autograd.grad", counted)
    calls["handle"] = handle  # type: ignore[assignment]
    return calls


@pytest.mark.parametrize("cams", [False, True])
def test_all_crops_go_through_one_forward_and_one_backward(tiny, monkeypatch, cams):
    calls = counting(tiny, monkeypatch)
    try:
        judged = inspection.judge(tiny, crops(12), cams=cams)
    finally:
        calls.pop("handle").remove()  # type: ignore[attr-defined]
    assert len(judged) == 12
    assert calls["forward"] == [12]
    assert calls["backward"] == ([1] if cams else [])
    assert all((j.mask is not None) == cams for j in judged)


def test_decisions_equal_predict_for_the_same_crops(tiny):
    photos = crops(9)
    expected = predict.predict(tiny, photos)
    # the operating point matters here: some crops are flagged although normal is the likeliest class
    assert any(p.defect and p.top == "normal" for p in expected) or tiny.threshold is None
    for cams in (False, True):
        judged = inspection.judge(tiny, photos, cams=cams)
        for mine, theirs in zip(judged, expected, strict=True):
            assert (mine.prediction.label, mine.prediction.top, mine.prediction.defect) == (
                theirs.label,
                theirs.top,
                theirs.defect,
            )
            assert mine.prediction.probs == pytest.approx(theirs.probs, abs=1e-5)


@pytest.mark.parametrize("arch", ["tiny_cnn", "resnet18"])
def test_batched_masks_equal_the_masks_of_one_crop_at_a_time(arch):
    predictor = predictor_for(arch, threshold=0.5)
    photos = crops(6)
    judged = inspection.judge(predictor, photos, cams=True)
    for photo, one in zip(photos, judged, strict=True):
        target = CLASSES.index(one.prediction.label)  # each crop's own class: its decision
        alone, chosen = explain.cam_mask(predictor, photo, "gradcam", target)
        assert one.target == one.prediction.label and chosen == target
        assert one.mask is not None and one.mask.shape == alone.shape == (64, 64)
        np.testing.assert_allclose(one.mask, alone, atol=1e-4)
    # the masks differ between crops: one sample's gradient did not leak into the others
    assert not np.allclose(judged[0].mask, judged[1].mask, atol=1e-2)


@pytest.mark.parametrize("method", [m for m in inspection.BATCHED if m != "gradcam"])
def test_every_fast_method_batches(tiny, method):
    photos = crops(4)
    judged = inspection.judge(tiny, photos, cams=True, method=method)
    for photo, one in zip(photos, judged, strict=True):
        alone, _ = explain.cam_mask(tiny, photo, method, CLASSES.index(one.prediction.label))
        np.testing.assert_allclose(one.mask, alone, atol=1e-4, err_msg=method)


def test_a_method_that_cannot_batch_is_refused_and_no_crop_is_no_work(tiny):
    with pytest.raises(ValidationError) as caught:
        inspection.judge(tiny, crops(2), cams=True, method="scorecam")
    assert caught.value.key == "inspect.judge.error.method"
    with pytest.raises(ValidationError):
        inspection.judge(tiny, crops(2), cams=True, method="eigencam")
    assert inspection.judge(tiny, [], cams=True) == []


# ---- inspect_photo: alignment, crops, unfit positions ---------------------------------------------------


def board(size: tuple[int, int] = (400, 300)) -> tuple[Image.Image, list[stations.Position]]:
    """A plate with four bolt crops pasted at known boxes (P4's box runs off the right edge)."""
    photo = Image.new("RGB", size, (90, 90, 95))
    boxes = [(10, 10, 90, 90), (120, 20, 200, 100), (30, 150, 110, 230), (360, 120, 440, 200)]
    for i, box in enumerate(boxes[:3]):
        photo.paste(demo.render_crop(i, CLASSES[i]).image.resize((80, 80)), box[:2])
    ImageDraw.Draw(photo).rectangle((300, 250, 320, 270), fill=(200, 200, 0))
    return photo, [stations.Position(f"P{i + 1}", box) for i, box in enumerate(boxes)]


def station_for(positions: list[stations.Position], margin: float = 0.0) -> stations.Station:
    return stations.Station(
        id=1,
        name="wheel",
        version=1,
        reference_sha256="0" * 64,
        reference_size=(400, 300),
        positions=tuple(positions),
        run_id=None,
        margin=margin,
        created_by="alice",
        created_at="2026-12-03T00:00:00Z",
    )


def inspect(predictor, photo, station, alignment, cams=True):
    return inspection.inspect_photo(
        predictor,
        station,
        photo,
        photo,
        photo_sha256="ab" * 32,
        photo_name="wheel.jpg",
        asset="OHT-7/W1",
        alignment=alignment,
        cams=cams,
    )


def test_positions_are_cropped_judged_in_one_batch_and_the_one_outside_is_unfit(tiny, monkeypatch):
    photo, positions = board()
    calls = counting(tiny, monkeypatch)
    try:
        result, judged = inspect(tiny, photo, station_for(positions), align.Alignment(True, 1.0, IDENTITY, "manual"))
    finally:
        calls.pop("handle").remove()  # type: ignore[attr-defined]
    assert calls["forward"] == [3] and calls["backward"] == [1]  # the three fit positions, together
    assert [p.name for p in result.positions] == ["P1", "P2", "P3", "P4"]
    p4 = result.positions[3]
    assert (p4.unfit, p4.label, p4.defect, p4.probs) == ("outside", None, True, {}) and judged[3] is None
    expected = predict.predict(tiny, [photo.crop(p.box) for p in positions[:3]])
    for got, one, want, position in zip(result.positions[:3], judged[:3], expected, positions, strict=False):
        assert got.unfit is None and got.label == want.label and got.defect == want.defect
        assert got.box == position.box and one is not None and one.crop.size == (80, 80)
        assert got.probs == pytest.approx(want.probs, abs=1e-5)
    assert result.verdict == "check"  # an unfit position is never a silent pass
    assert (result.run_id, result.threshold, result.size, result.asset) == (7, 0.6, (400, 300), "OHT-7/W1")


def test_a_refused_alignment_crops_nothing_and_every_position_is_unfit(tiny, monkeypatch):
    photo, positions = board()

    def no_crop(*_args, **_kwargs):
        raise AssertionError("cropped from a refused alignment")

    monkeypatch.setattr(align, "crop", no_crop)
    refused = align.Alignment(False, 0.1, IDENTITY, "auto", "too few matches", "inspect.align.few_matches")
    result, judged = inspect(tiny, photo, station_for(positions[:3]), refused)
    assert judged == [None, None, None]
    assert all(p.unfit == "alignment" and p.defect and p.label is None for p in result.positions)
    assert result.verdict == "check" and result.alignment is refused


def test_margin_grows_the_crop_and_a_shifted_alignment_moves_it(tiny):
    photo, positions = board()
    station = station_for(positions[:2], margin=0.125)
    _, judged = inspect(tiny, photo, station, align.Alignment(True, 1.0, IDENTITY, "manual"), cams=False)
    assert [j.crop.size for j in judged] == [(100, 100), (100, 100)] and judged[0].mask is None
    shifted = align.Alignment(True, 0.9, (1.0, 0.0, 5.0, 0.0, 1.0, 7.0), "manual")
    result, judged = inspect(tiny, photo, station_for(positions[1:2]), shifted, cams=False)
    assert result.positions[0].box == (125, 27, 205, 107)
    want = np.asarray(photo.crop((125, 27, 205, 107)), dtype=np.int16)
    assert np.abs(np.asarray(judged[0].crop, dtype=np.int16) - want).max() <= 1


def test_a_passing_photo_passes(tiny):
    photo, positions = board()
    sure = predict.Predictor(tiny.run, tiny.spec, CLASSES, 0.0, tiny.device)  # every crop normal at this point
    result, _ = inspect(sure, photo, station_for(positions[:3]), align.Alignment(True, 1.0, IDENTITY, "identity"))
    assert [p.label for p in result.positions] == ["normal"] * 3 and result.verdict == "pass"


# ---- inspect_files: the station's model loaded once, each photo decoded, inspected and recorded ------------


def jpeg_file(path, image: Image.Image) -> Path:
    image.save(path, "JPEG", quality=92)
    return path


@pytest.mark.slow
def test_inspect_files_records_each_photo_with_the_station_model(ws, tmp_path, monkeypatch):
    from core import auth, inspections
    from tests.core.train_helpers import ADMIN, promoted_tiny_run

    run = promoted_tiny_run(ws)
    photo, positions = board()
    reference = jpeg_file(tmp_path / "reference.jpg", photo)
    stations.add_station(ws, ADMIN, "board", reference, positions[:3], run_id=run.id, margin=0.1)
    seen = []

    def aligned(ref, shown, boxes):
        seen.append((ref.size, shown.size, list(boxes)))
        return align.identity()

    monkeypatch.setattr(align, "align", aligned)
    loads = []
    load = predict.load_predictor
    monkeypatch.setattr(predict, "load_predictor", lambda *a, **k: loads.append(a[1:]) or load(*a, **k))
    moved = jpeg_file(tmp_path / "moved.jpg", photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    viewer = auth.Actor("vera", "viewer")
    out = list(inspection.inspect_files(ws, viewer, "board", [reference, moved], asset="OHT-7/W1"))
    assert (
        loads == [(run.id,)] and len(seen) == 2 and seen[0] == ((400, 300), (400, 300), [p.box for p in positions[:3]])
    )
    assert len(inspections.list_inspections(ws.conn, asset="OHT-7/W1")) == 2
    for (inspection_id, result), path in zip(out, [reference, moved], strict=True):
        stored = inspections.get_inspection(ws.conn, inspection_id)
        assert stored.verdict == result.verdict and stored.run_id == run.id
        assert result.photo_name == path.name and result.asset == "OHT-7/W1" and result.run_id == run.id
        assert result.photo_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert [p.name for p in result.positions] == ["P1", "P2", "P3"] and all(
            p.unfit is None for p in result.positions
        )
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a photo")
    with pytest.raises(ValidationError) as caught:
        list(inspection.inspect_files(ws, viewer, "board", [broken]))
    assert caught.value.key == "reject.not_image" or caught.value.key.startswith("reject.")
