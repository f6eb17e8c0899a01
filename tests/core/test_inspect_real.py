"""Inspections on real whole photos (../shared/datasets/screw-blocks): EfficientNet-Lite0 (ImageNet weights from
its pip package) fine-tuned on the `screws` training crops, a station from train/34.jpg and its four boxes, the 46
test photos as taken and moved by hand.

Run with -s to see the figures. Issue 16, acceptance 1 (photos as taken) and 2 (rotated ±20°, shifted ±60 px,
scaled 0.9–1.1 with a fixed seed; the positions move with the photo; a refused alignment counts as wrong). The
moved photos keep the whole block in view (the canvas grows with the turn, as an engineer frames the whole unit);
a second test turns them inside the original frame, where a corner screw can leave the photo: such a position
must be named unfit ("outside"), never guessed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from core import align, auth, ingest, jobs, runs, stations
from core.config import TrainConfig
from core.ml import inspect as inspection
from core.workspace import open_workspace
from tests.conftest import SHARED_DATASETS
from tests.core.train_helpers import ADMIN, run_job_here

ROOTS = (SHARED_DATASETS,)
STATION_PHOTO = "train/34.jpg"
MARGIN = 24 / 256  # the `screws` crops: each 256 px box grown by 24 px on every side (their README)
SEED = 16
# The model the station uses: a short fine-tune with the "photo" augmentation (light, blur, a tilt of up to 12°,
# a slanted view, a loose crop), at 160 px to keep the test quick on two cores (about 100 s).
FINE_TUNE = TrainConfig(arch="efficientnet_lite0", epochs=6, image_size=160, augment="photo", warmup_epochs=1, seed=0)
# Measured 2026-12-03 on the 2-core machine: as taken 184/184 (1.000), verdicts 46/46; moved on a canvas that keeps
# the block whole 184/184; moved inside the original frame 177/184 (0.962), all 7 misses corner positions turned
# out of the photo and named unfit "outside". The quick model (a linear probe) reached 0.984 as taken.
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
    """A workspace with the screws training crops, the fine-tuned model and the station; once per module."""
    root = datasets()
    ws = open_workspace(tmp_path_factory.mktemp("inspect-real") / "ws")
    report = ingest.import_paths(ws, ADMIN, [root / "screws" / "train"], split="train")
    assert report.to_json()["imported"] == 400
    job_id = jobs.submit(ws.conn, ADMIN, FINE_TUNE)
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


def _motion(photo: Image.Image, rng: np.random.Generator) -> tuple[float, float, float, float]:
    return rng.uniform(-20, 20), rng.uniform(-60, 60), rng.uniform(-60, 60), rng.uniform(0.9, 1.1)


def moved(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The photo turned about its centre by up to ±20°, shifted by up to ±60 px and scaled 0.9–1.1, on a canvas
    that holds all of it (the block stays whole in view; the canvas grows by the turned photo's bounding box and
    the shift's reach, its edges repeat the photo's edge pixels)."""
    angle, dx, dy, scale = _motion(photo, rng)
    w, h = photo.size
    c, s = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    size = (math.ceil(scale * (w * c + h * s)) + 120, math.ceil(scale * (w * s + h * c)) + 120)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += (dx + (size[0] - w) / 2, dy + (size[1] - h) / 2)
    out = cv2.warpAffine(np.asarray(photo), m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return Image.fromarray(out)


def moved_in_frame(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The same motion in the photo's own frame (the camera turned, the frame did not grow): what leaves the frame
    is lost, edge pixels repeat."""
    angle, dx, dy, scale = _motion(photo, rng)
    w, h = photo.size
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += (dx, dy)
    out = cv2.warpAffine(np.asarray(photo), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return Image.fromarray(out)


def moved_photos(scene: Scene, move) -> list[tuple[Truth, bytes]]:
    """Each test photo moved by `move` (the same seeded motions for either way of moving), as JPEG bytes."""
    rng = np.random.default_rng(SEED)
    photos = []
    for truth in photos_of(scene):
        with Image.open(scene.root / "screw-blocks" / truth.photo) as img:
            photos.append((truth, jpeg(move(img.convert("RGB"), rng))))
    return photos


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
    misses: list[tuple[str, str, str | None]] = field(default_factory=list)  # photo, position, why unfit

    def add(self, truth: Truth, result) -> list[str]:
        """Count one inspected photo; the names of its wrong positions (unfit ones count as wrong)."""
        wrong = [p.name for p in result.positions if p.label != truth.labels[p.name]]
        self.misses += [(truth.photo, p.name, p.unfit) for p in result.positions if p.name in wrong]
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
def test_real_photos_moved_by_hand(scene: Scene):
    """Acceptance 2: the same photos rotated, shifted and scaled (seed SEED); no help; refused counts wrong."""
    tally, notes = inspect_all(scene, moved_photos(scene, moved))
    report(f"46 test photos moved (seed {SEED}), automatic alignment", tally, notes)
    assert tally.positions == 184
    assert tally.accuracy >= 0.97


@pytest.mark.slow
def test_real_photos_moved_inside_their_frame(scene: Scene):
    """The same motions inside the photo's own frame: a corner screw turned out of the photo is named unfit
    ("outside"), never guessed; every other position is judged right."""
    tally, notes = inspect_all(scene, moved_photos(scene, moved_in_frame))
    report(f"46 test photos moved inside their frame (seed {SEED}), automatic alignment", tally, notes)
    assert tally.positions == 184 and tally.accuracy >= 0.95
    assert all(why == "outside" for _, _, why in tally.misses), tally.misses
