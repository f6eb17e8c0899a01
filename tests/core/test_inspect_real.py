"""Inspections on real whole photos (../shared/datasets/screw-blocks): a quick model trained on the `screws`
training crops, a station from train/34.jpg and its four boxes, the 46 test photos as taken and moved by hand.

Run with -s to see the figures. Issue 16, acceptance 1 (photos as taken) and 2 (rotated ±20°, shifted ±60 px,
scaled 0.9–1.1 with a fixed seed; the positions move with the photo; a refused alignment counts as wrong).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from core import align, auth, ingest, jobs, runs, stations
from core.config import QUICK_IMAGE_SIZE, TrainConfig
from core.ml import inspect as inspection
from core.workspace import open_workspace
from tests.conftest import SHARED_DATASETS
from tests.core.train_helpers import ADMIN, run_job_here

ROOTS = (SHARED_DATASETS,)
STATION_PHOTO = "train/34.jpg"
MARGIN = 24 / 256  # the `screws` crops: each 256 px box grown by 24 px on every side (their README)
SEED = 16
# Measured 2026-12-03 with the quick model, once align.crop crops a position while 60 % of its box is in the photo
# (the station's boxes are the source's fixed 256 px boxes at the photo's edges): as taken 0.984 per position
# (bar 0.99), verdicts 46/46; moved 0.919 (bar 0.97), verdicts 38/46, mostly positions whose screw the rotation
# took partly out of the frame. Not met yet: the marks go when a fine-tuned model reaches the bars.
SHORT = "the quick model reaches 0.984 as taken and 0.919 moved (bars 0.99 and 0.97); see the module's figures"
VIEWER = auth.Actor("vera", "viewer")  # every role inspects


def datasets() -> Path:
    for root in ROOTS:
        if (root / "screw-blocks" / "positions.csv").is_file() and (root / "screws" / "train").is_dir():
            return root
    pytest.skip("../shared/datasets/screw-blocks and screws are not present")


@dataclass(frozen=True)
class Truth:
    photo: str  # "test/101.jpg"
    labels: dict[str, str]  # position name -> normal | missing
    boxes: dict[str, tuple[int, int, int, int]]


def truths(root: Path) -> dict[str, Truth]:
    rows: dict[str, Truth] = {}
    with (root / "screw-blocks" / "positions.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            found = rows.setdefault(row["photo"], Truth(row["photo"], {}, {}))
            found.labels[row["position_name"]] = row["label"]
            found.boxes[row["position_name"]] = tuple(int(row[k]) for k in ("x0", "y0", "x1", "y1"))  # type: ignore[assignment]
    return rows


@dataclass(frozen=True)
class Scene:
    ws: object
    root: Path
    truths: dict[str, Truth]
    setup: inspection.Setup


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Iterator[Scene]:
    """A workspace with the screws training crops, a quick model on them and the station; once per module."""
    root = datasets()
    ws = open_workspace(tmp_path_factory.mktemp("inspect-real") / "ws")
    report = ingest.import_paths(ws, ADMIN, [root / "screws" / "train"], split="train")
    assert report.to_json()["imported"] == 400
    config = TrainConfig(kind="quick", epochs=1, warmup_epochs=0, image_size=QUICK_IMAGE_SIZE, seed=0)
    job_id = jobs.submit(ws.conn, ADMIN, config)
    assert run_job_here(ws, job_id) == "done"
    run_id = runs.run_for_job(ws.conn, job_id).id
    table = truths(root)
    reference = table[STATION_PHOTO]
    positions = [stations.Position(name, box) for name, box in reference.boxes.items()]
    stations.add_station(ws, ADMIN, "blocks", root / "screw-blocks" / STATION_PHOTO, positions, run_id, MARGIN)
    yield Scene(ws, root, table, inspection.load_setup(ws, "blocks"))
    ws.close()


def photos_of(scene: Scene) -> list[Truth]:
    return [t for name, t in sorted(scene.truths.items()) if name.startswith("test/")]


def moved(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The photo turned about its centre by up to ±20°, shifted by up to ±60 px and scaled 0.9–1.1, in the same
    frame (the camera moved, not the picture): what leaves the frame is lost, edge pixels repeat."""
    angle, dx, dy, scale = rng.uniform(-20, 20), rng.uniform(-60, 60), rng.uniform(-60, 60), rng.uniform(0.9, 1.1)
    w, h = photo.size
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += (dx, dy)
    out = cv2.warpAffine(np.asarray(photo), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return Image.fromarray(out)


def jpeg(photo: Image.Image) -> bytes:
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=95)
    return out.getvalue()


@dataclass
class Tally:
    positions: int = 0
    right: int = 0
    photos: int = 0
    verdicts_right: int = 0

    def add(self, truth: Truth, result) -> list[str]:
        """Count one inspected photo; the names of its wrong positions (unfit ones count as wrong)."""
        wrong = [p.name for p in result.positions if p.label != truth.labels[p.name]]
        self.positions += len(result.positions)
        self.right += len(result.positions) - len(wrong)
        self.photos += 1
        expected = "pass" if all(v == "normal" for v in truth.labels.values()) else "defect"
        self.verdicts_right += result.verdict == expected
        return wrong

    @property
    def accuracy(self) -> float:
        return self.right / max(1, self.positions)


def inspect_all(scene: Scene, photos: list[tuple[Truth, bytes]], alignment=None) -> tuple[Tally, list[str]]:
    setup, tally, notes = scene.setup, Tally(), []
    for truth, data in photos:
        result, _ = inspection.inspect_photo(
            setup.predictor,
            setup.station,
            setup.reference,
            inspection.decode_photo(scene.ws, data),
            photo_sha256=hashlib.sha256(data).hexdigest(),
            photo_name=truth.photo,
            asset="block",
            alignment=alignment,
            cams=False,
        )
        notes += explain(truth, result, tally)
    return tally, notes


def explain(truth: Truth, result, tally: Tally) -> list[str]:
    """Count the photo; a line naming a refused alignment or the wrong positions (and why unfit)."""
    wrong = tally.add(truth, result)
    if not result.alignment.ok:
        return [f"{truth.photo}: alignment refused ({result.alignment.reason_key})"]
    unfit = {p.name: p.unfit for p in result.positions if p.unfit}
    return [f"{truth.photo}: wrong {wrong}" + (f", unfit {unfit}" if unfit else "")] if wrong else []


def report(title: str, tally: Tally, notes: list[str]) -> None:
    print(
        f"\n{title}: per-position accuracy {tally.accuracy:.4f} ({tally.right}/{tally.positions}), "
        f"photo verdict right {tally.verdicts_right}/{tally.photos}"
    )
    for note in notes:
        print("  " + note)


@pytest.mark.slow
@pytest.mark.xfail(reason=SHORT, strict=False)
def test_real_photos_as_taken(scene: Scene):
    """Acceptance 1: `inspect` (inspect_files: decode, align, judge, record) on the 46 test photos, each position
    against positions.csv."""
    truth = {t.photo.split("/")[1]: t for t in photos_of(scene)}
    paths = [scene.root / "screw-blocks" / t.photo for t in photos_of(scene)]
    assert len(paths) == 46
    tally, notes = Tally(), []
    for _, result in inspection.inspect_files(scene.ws, VIEWER, "blocks", paths, asset="block"):
        notes += explain(truth[result.photo_name], result, tally)
    report("46 test photos as taken, automatic alignment (recorded)", tally, notes)
    assert tally.positions == 184
    assert tally.accuracy >= 0.99 and tally.verdicts_right >= 45


@pytest.mark.slow
def test_real_photos_as_taken_fixed_camera(scene: Scene):
    """The same photos cropped where the boxes were drawn (alignment=identity, a fixed camera): the model's
    part of acceptance 1 without the alignment's."""
    photos = [(t, (scene.root / "screw-blocks" / t.photo).read_bytes()) for t in photos_of(scene)]
    # the boxes themselves (margin 0): grown by the training margin, the left boxes (x0 = 5) leave the photo
    fixed = replace(scene, setup=replace(scene.setup, station=replace(scene.setup.station, margin=0.0)))
    tally, notes = inspect_all(fixed, photos, align.identity())
    report("46 test photos as taken, identity alignment, margin 0", tally, notes)
    assert tally.positions == 184 and tally.accuracy >= 0.95 and tally.verdicts_right >= 43


@pytest.mark.slow
@pytest.mark.xfail(reason=SHORT, strict=False)
def test_real_photos_moved_by_hand(scene: Scene):
    """Acceptance 2: the same photos rotated, shifted and scaled (seed SEED); no help; refused counts wrong."""
    rng = np.random.default_rng(SEED)
    photos = []
    for truth in photos_of(scene):
        with Image.open(scene.root / "screw-blocks" / truth.photo) as img:
            photos.append((truth, jpeg(moved(img.convert("RGB"), rng))))
    tally, notes = inspect_all(scene, photos)
    report(f"46 test photos moved (seed {SEED}), automatic alignment", tally, notes)
    assert tally.positions == 184
    assert tally.accuracy >= 0.97
