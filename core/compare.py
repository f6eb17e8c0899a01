"""Two runs photo by photo on the same test photos, from their stored predictions: which photos the candidate
fixes and which it newly gets wrong, judged against each photo's current label.

A run's verdict on a photo is its decision at its operating point (the threshold on P(normal) chosen on
validation, as Diagnose, inspection and promotion use it): the photo is called normal only when P(normal)
reaches the threshold, else the likeliest defect class. A run without one (no 'normal' class, no validation
photos) answers with its stored prediction. A verdict is right when it names the photo's current label; with one
defect class this is exactly the defect/normal call the plant acts on."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field

import numpy as np

from core import evaluation, metrics, runs, store
from core.errors import ValidationError

# why a photo of either run's test predictions is not compared (the JSON's "left_out" reasons)
LEFT_OUT_REASONS = ("only_a", "only_b", "trashed", "unlabelled", "label_unknown")


@dataclass(frozen=True)
class RunVerdict:
    """One run's answer on one photo: its decision, whether it names the current label, its probabilities."""

    decided: str
    right: bool
    p_defect: float | None  # 1 - P(normal); None when the run has no 'normal' class
    probs: list[float]  # in the order of the run's classes


@dataclass(frozen=True)
class Flip:
    """A photo one run gets right and the other wrong (or both wrong: then it is in neither list)."""

    image_id: int
    sha256: str
    label: str  # the photo's current label
    a: RunVerdict
    b: RunVerdict


@dataclass(frozen=True)
class RunSide:
    """What each run decides with: its classes and the threshold on P(normal) (None: its stored argmax)."""

    run_id: int
    classes: list[str]
    threshold: float | None


@dataclass(frozen=True)
class PhotoComparison:
    """RUN_B (the candidate) against RUN_A (say production): fixed = B right where A was wrong, broken = B newly
    wrong where A was right, same = the other compared photos (both right, or both wrong)."""

    a: RunSide
    b: RunSide
    split: str
    fixed: list[Flip]
    broken: list[Flip]
    same: int
    both_wrong: int
    left_out: dict[str, list[int]] = field(default_factory=dict)  # reason -> image ids

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def summary(self) -> dict[str, object]:
        """The counts and the flipped photos' ids: what a promotion records."""
        return {
            "against": self.a.run_id,
            "fixed": [f.image_id for f in self.fixed],
            "broken": [f.image_id for f in self.broken],
            "same": self.same,
            "left_out": sum(len(ids) for ids in self.left_out.values()),
        }


def _verdicts(conn: sqlite3.Connection, run: runs.Run, split: str) -> tuple[RunSide, dict[int, tuple[str, list]]]:
    """Each photo's decision at the run's operating point, and its stored probabilities."""
    rows = runs.predictions(conn, run.id, split)
    point = evaluation.operating_point(conn, run)
    side = RunSide(run.id, list(run.class_names), point.threshold if point else None)
    if point is None or not rows:
        return side, {r["image_id"]: (r["predicted"], r["probs"]) for r in rows}
    probs = np.array([r["probs"] for r in rows], dtype=float).reshape(len(rows), len(run.class_names))
    decided = metrics.apply_threshold(probs, run.class_names.index(evaluation.NORMAL), point.threshold)
    return side, {r["image_id"]: (run.class_names[d], r["probs"]) for r, d in zip(rows, decided, strict=True)}


def _verdict(run: RunSide, answer: tuple[str, list], label: str) -> RunVerdict:
    decided, probs = answer
    normal = run.classes.index(evaluation.NORMAL) if evaluation.NORMAL in run.classes else None
    p_defect = None if normal is None else round(1.0 - float(probs[normal]), 6)
    return RunVerdict(decided, decided == label, p_defect, list(probs))


def _checked_pair(conn: sqlite3.Connection, run_a: int, run_b: int) -> tuple[runs.Run, runs.Run]:
    if run_a == run_b:
        raise ValidationError(
            f"run {run_a} was given twice; compare a candidate with another run", key="compare.same_run", run=run_a
        )
    a, b = evaluation.finished_run(conn, run_a), evaluation.finished_run(conn, run_b)
    if set(a.class_names) != set(b.class_names):
        raise ValidationError(
            f"runs {run_a} and {run_b} know different classes ({', '.join(a.class_names)} vs "
            f"{', '.join(b.class_names)}), so their verdicts cannot be compared photo by photo",
            key="compare.classes",
            a=run_a,
            b=run_b,
            classes_a=", ".join(a.class_names),
            classes_b=", ".join(b.class_names),
        )
    return a, b


def _left_out_reason(image: store.Image | None, classes: list[str]) -> str | None:
    if image is None or image.deleted_at is not None:
        return "trashed"
    if image.label is None:
        return "unlabelled"
    return None if image.label in classes else "label_unknown"


def compare_photos(conn: sqlite3.Connection, run_a: int, run_b: int, split: str = "test") -> PhotoComparison:
    """RUN_B against RUN_A on the photos both predicted in the split, from the stored predictions (no model is
    loaded). Raises ValidationError for the same run twice, an unfinished run or runs of different classes."""
    a_run, b_run = _checked_pair(conn, run_a, run_b)
    (a, a_answers), (b, b_answers) = _verdicts(conn, a_run, split), _verdicts(conn, b_run, split)
    images = {im.id: im for im in store.all_images(conn, include_trashed=True)}
    left_out: dict[str, list[int]] = {}
    fixed, broken, same, both_wrong = [], [], 0, 0
    for image_id in sorted(a_answers.keys() | b_answers.keys()):
        image = images.get(image_id)
        reason = "only_a" if image_id not in b_answers else "only_b" if image_id not in a_answers else None
        reason = reason or _left_out_reason(image, a.classes)
        if reason:
            left_out.setdefault(reason, []).append(image_id)
            continue
        old, new = _verdict(a, a_answers[image_id], image.label), _verdict(b, b_answers[image_id], image.label)
        if old.right == new.right:
            same += 1
            both_wrong += not old.right
            continue
        (fixed if new.right else broken).append(Flip(image_id, image.sha256, image.label, old, new))
    return PhotoComparison(a, b, split, fixed, broken, same, both_wrong, left_out)
