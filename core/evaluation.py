"""A run's evaluation from its stored predictions, its safety operating point, promotion, comparison."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import NotRequired, TypedDict

import numpy as np

from core import auth, calibration, metrics, runs, zoo
from core.errors import ValidationError

NORMAL = "normal"  # the one class that is not a defect; every other class is


def _arrays(
    conn: sqlite3.Connection, run: runs.Run, split: str
) -> tuple[np.ndarray, np.ndarray, list[runs.StoredPrediction]]:
    rows = runs.predictions(conn, run.id, split)
    index = {name: i for i, name in enumerate(run.class_names)}
    truth = np.array([index[r["label"]] for r in rows], dtype=int)
    probs = np.array([r["probs"] for r in rows], dtype=float).reshape(len(rows), len(run.class_names))
    return truth, probs, rows


def finished_run(conn: sqlite3.Connection, run_id: int) -> runs.Run:
    run = runs.get_run(conn, run_id)
    if not run.finished:
        raise ValidationError(
            f"run {run_id} has not finished; it has no predictions to evaluate yet",
            key="evaluate.unfinished",
            run=run_id,
        )
    return run


def operating_point(
    conn: sqlite3.Connection, run: runs.Run, target_recall: float | None = None, costs: list[list[float]] | None = None
) -> metrics.OperatingPoint | None:
    """Chosen on the validation split; None when the run has no 'normal' class or no validation photos."""
    if NORMAL not in run.class_names:
        return None
    truth, probs, _ = _arrays(conn, run, "val")
    if len(truth) == 0:
        return None
    if costs is None and target_recall is None:
        stored = run.operating_point
        if stored:
            return metrics.OperatingPoint(**stored)
        target_recall = metrics.DEFAULT_TARGET_RECALL
    if costs is not None and (len(costs) != len(run.class_names) or any(len(r) != len(costs) for r in costs)):
        raise ValidationError(
            f"the cost matrix must be {len(run.class_names)}×{len(run.class_names)}",
            key="evaluate.cost_shape",
            n=len(run.class_names),
        )
    return metrics.choose_operating_point(truth, probs, run.class_names.index(NORMAL), target_recall, costs)


def store_operating_point(
    conn: sqlite3.Connection,
    actor: auth.Actor,
    run_id: int,
    target_recall: float | None = None,
    costs: list[list[float]] | None = None,
) -> metrics.OperatingPoint:
    auth.require(actor, "promote")
    if target_recall is not None and not 0.5 <= target_recall <= 1.0:
        raise ValidationError(
            f"target defect recall {target_recall} must be between 0.5 and 1",
            key="evaluate.target_range",
            target=target_recall,
        )
    run = finished_run(conn, run_id)
    point = operating_point(conn, run, target_recall or (None if costs else metrics.DEFAULT_TARGET_RECALL), costs)
    if point is None:
        raise ValidationError(
            f"run {run_id} has no '{NORMAL}' class or no validation photos, so there is no defect threshold to choose",
            key="evaluate.no_threshold",
            run=run_id,
        )
    runs.set_operating_point(conn, actor, run_id, point.to_json())
    return point


@dataclass(frozen=True)
class OperatingEffect:
    """What an operating point does on one split: its decisions' defect recall, false-alarm rate and confusion
    matrix [given][decided]. On an empty split n is 0, the matrix zeros (and the rates metrics.defect_rates')."""

    threshold: float
    n: int
    defect_recall: float
    false_alarm_rate: float
    confusion_matrix: list[list[int]]


def _effect(run: runs.Run, truth: np.ndarray, probs: np.ndarray, point: metrics.OperatingPoint) -> OperatingEffect:
    normal = run.class_names.index(NORMAL)
    decisions = metrics.apply_threshold(probs, normal, point.threshold)
    recall, false_alarm = metrics.defect_rates(truth, decisions, normal)
    matrix = metrics.compute_metrics(truth, probs, run.class_names, decisions)["confusion_matrix"]
    return OperatingEffect(point.threshold, len(truth), recall, false_alarm, matrix)


def operating_effect(
    conn: sqlite3.Connection, run: runs.Run, point: metrics.OperatingPoint, split: str = "test"
) -> OperatingEffect:
    """The effect of a threshold on P(normal) (chosen on validation) on another split's stored predictions."""
    truth, probs, _ = _arrays(conn, run, split)
    return _effect(run, truth, probs, point)


class OperatingFigures(TypedDict):
    """The stored operating point's effect on the summarized split."""

    threshold: float
    defect_recall: float
    false_alarm_rate: float
    target_recall: float | None  # None: chosen from a cost matrix
    confusion_matrix: list[list[int]]  # [given][decided]


class RunSummary(metrics.Metrics):
    """summarize_run's answer: the split's metrics, which photos they cover and the operating point's effect."""

    run_id: int
    split: str
    image_ids: list[int]
    operating_point: OperatingFigures | None  # None: no 'normal' class or no validation photos


def summarize_run(conn: sqlite3.Connection, run_id: int, split: str = "test") -> RunSummary:
    """Every figure of the Evaluate page and `evaluate --json` for one split of a finished run."""
    run = finished_run(conn, run_id)
    truth, probs, rows = _arrays(conn, run, split)
    out = RunSummary(
        **metrics.compute_metrics(truth, probs, run.class_names),
        run_id=run.id,
        split=split,
        image_ids=[r["image_id"] for r in rows],
        operating_point=None,
    )
    point = operating_point(conn, run)
    if point is not None:
        effect = _effect(run, truth, probs, point)
        out["operating_point"] = OperatingFigures(
            threshold=point.threshold,
            defect_recall=effect.defect_recall,
            false_alarm_rate=effect.false_alarm_rate,
            target_recall=point.target_recall,
            confusion_matrix=effect.confusion_matrix,
        )
    return out


@dataclass(frozen=True)
class Standing:
    """A run's figures on its test split: what promotion compares (defect recall None: no operating point)."""

    macro_f1: float
    defect_recall: float | None
    photos: frozenset[int]


def standing(conn: sqlite3.Connection, run: runs.Run) -> Standing:
    result = summarize_run(conn, run.id)
    point = result["operating_point"]
    return Standing(result["macro_f1"], point["defect_recall"] if point else None, frozenset(result["image_ids"]))


def _apart(new: float, old: float) -> tuple[str, str]:
    """Two figures rounded to 3 decimals, or as many more (up to 6) as it takes to show they differ."""
    for digits in range(3, 7):
        if f"{new:.{digits}f}" != f"{old:.{digits}f}":
            break
    return f"{new:.{digits}f}", f"{old:.{digits}f}"


def promotion_refusal(run_id: int, current_id: int, new: Standing, old: Standing) -> ValidationError | None:
    """Why the run may not replace production, the most serious reason: other test photos, more missed defects
    (lower defect recall, whatever the macro-F1), a lower macro-F1. The key's text names the page's override,
    the English message the CLI's --force."""
    if new.photos != old.photos:
        return ValidationError(
            f"run {run_id} was tested on other photos than production run {current_id}; lock the test split so "
            "runs compare, or promote with --force",
            key="evaluate.promote_refused_photos",
            run=run_id,
            production=current_id,
        )
    if (
        new.defect_recall is not None
        and old.defect_recall is not None
        and new.defect_recall < old.defect_recall - 1e-12
    ):
        shown_new, shown_old = _apart(new.defect_recall, old.defect_recall)
        return ValidationError(
            f"run {run_id} misses more defects than production run {current_id}: test defect recall at its "
            f"operating point {new.defect_recall:.4f}, below {old.defect_recall:.4f} (macro-F1 {new.macro_f1:.4f} vs "
            f"{old.macro_f1:.4f}); promote with --force to override",
            key="evaluate.promote_refused_recall",
            run=run_id,
            production=current_id,
            new=shown_new,
            old=shown_old,
            new_f1=f"{new.macro_f1:.3f}",
            old_f1=f"{old.macro_f1:.3f}",
        )
    if new.macro_f1 < old.macro_f1:
        shown_new, shown_old = _apart(new.macro_f1, old.macro_f1)
        return ValidationError(
            f"run {run_id} has test macro-F1 {new.macro_f1:.4f}, below production run {current_id}'s "
            f"{old.macro_f1:.4f}; promote with --force to override",
            key="evaluate.promote_refused_f1",
            run=run_id,
            production=current_id,
            new=shown_new,
            old=shown_old,
        )
    return None


def _reason(current_id: int, new: Standing, old: Standing, forced: bool) -> str:
    recall = (
        ""
        if new.defect_recall is None or old.defect_recall is None
        else f"test defect recall {new.defect_recall:.4f} vs {old.defect_recall:.4f}, "
    )
    return f"{recall}test macro-F1 {new.macro_f1:.4f} vs {old.macro_f1:.4f} (run {current_id})" + (
        ", forced by the user" if forced else ""
    )


class Promotion(TypedDict):
    """promote's answer, which `promote` prints."""

    run_id: int
    previous_run_id: int | None
    forced: bool
    overridden: bool  # forced past a refusal
    reason: str
    figures: dict[str, list[float | None]] | None  # defect_recall, macro_f1: [this run, the run it replaces]
    # over a production model of the same classes: core.compare's summary (the photos this run fixes and newly
    # gets wrong, the count of the rest), as recorded with the promotion
    comparison: NotRequired[dict[str, object] | None]


def promote(conn: sqlite3.Connection, actor: auth.Actor, run_id: int, force: bool = False) -> Promotion:
    """Make a run the production model, unless on the same locked test photos it misses more defects at its
    operating point or has a lower macro-F1 than the current one; force overrides (and is recorded)."""
    auth.require(actor, "promote")
    run = finished_run(conn, run_id)
    current_id = runs.production_run_id(conn)
    if current_id == run_id:
        raise ValidationError(
            f"run {run_id} is already the production model", key="evaluate.already_production", run=run_id
        )
    out = Promotion(
        run_id=run_id,
        previous_run_id=current_id,
        forced=force,
        overridden=False,
        reason="first production model",
        figures=None,
    )
    if current_id is not None:
        new, old = standing(conn, run), standing(conn, runs.get_run(conn, current_id))
        refused = promotion_refusal(run_id, current_id, new, old)
        if refused is not None and not force:
            raise refused
        out["overridden"] = refused is not None  # forced past a refusal: the reason says so
        out["reason"] = _reason(current_id, new, old, refused is not None)
        out["figures"] = {
            "defect_recall": [new.defect_recall, old.defect_recall],
            "macro_f1": [new.macro_f1, old.macro_f1],
        }
        out["comparison"] = _photo_changes(conn, run, current_id)
    runs.record_promotion(conn, actor, run_id, force, out["reason"], out.get("comparison"))
    return out


def _photo_changes(conn: sqlite3.Connection, run: runs.Run, current_id: int) -> dict[str, object] | None:
    """What the promotion records: the run against production photo by photo on the test split; None when the
    two know different classes (their verdicts do not compare, and that alone does not stop a promotion)."""
    from core import compare  # imported here: core.compare reads operating points from this module

    if set(runs.get_run(conn, current_id).class_names) != set(run.class_names):
        return None
    return compare.compare_photos(conn, current_id, run.id).summary()


class RunRow(TypedDict):
    """One finished run in the comparison table."""

    run_id: int
    kind: str
    arch: str
    pretrained: bool
    params_m: float
    gflops: float
    image_size: int
    epochs: int
    train_s: float
    images_per_s: float | None
    accuracy: float | None
    macro_f1: float | None
    defect_recall: float | None
    cpu_ms: float | None
    production: bool


def compare_runs(conn: sqlite3.Connection) -> list[RunRow]:
    """One row per finished run: the model-selection table engineers otherwise build by hand."""
    rows: list[RunRow] = []
    production = runs.production_run_id(conn)
    for run in runs.list_runs(conn):
        if not run.finished:
            continue
        history = runs.epochs(conn, run.id)
        arch = zoo.ARCHES[run.arch]
        result = summarize_run(conn, run.id) if run.test_macro_f1 is not None else None
        point = result["operating_point"] if result else None
        rows.append(
            RunRow(
                run_id=run.id,
                kind=run.kind,
                arch=run.arch,
                pretrained=bool(run.weights.get("used")),
                params_m=arch.params_m,
                gflops=arch.gflops(run.config.image_size),
                image_size=run.config.image_size,
                epochs=len(history),
                train_s=sum(e.seconds or 0 for e in history),
                images_per_s=float(np.mean([e.images_per_s for e in history if e.images_per_s])) if history else None,
                # recomputed from the stored predictions, as promotion does (a run stored before macro-F1 averaged
                # over the classes present keeps no stale figure here)
                accuracy=result["accuracy"] if result else None,
                macro_f1=result["macro_f1"] if result else None,
                defect_recall=point["defect_recall"] if point else None,
                cpu_ms=run.cpu_ms,
                production=run.id == production,
            )
        )
    return rows


def cell_photos(
    conn: sqlite3.Connection, run_id: int, split: str, given: str, predicted: str
) -> list[runs.StoredPrediction]:
    """The stored predictions in one confusion-matrix cell: given (snapshot) label and predicted label."""
    return [
        row for row in runs.predictions(conn, run_id, split) if row["label"] == given and row["predicted"] == predicted
    ]


class Curves(TypedDict):
    pr: dict[str, metrics.PrCurve]  # per class with photos of it and of others
    reliability: metrics.Reliability  # the stored (calibrated) probabilities
    uncalibrated: metrics.Reliability | None  # before temperature scaling; None when the run has no temperature
    temperature: float | None


def curve_data(conn: sqlite3.Connection, run_id: int, split: str) -> Curves:
    """Per-class precision-recall curves and the reliability diagram (with ECE) of one split, before and after
    the run's temperature scaling (the stored probabilities are the calibrated ones)."""
    run = finished_run(conn, run_id)
    truth, probs, _ = _arrays(conn, run, split)
    t = run.temperature
    raw = metrics.reliability(truth, calibration.rescale(probs, 1.0 / t)) if t and len(probs) else None
    return Curves(
        pr=metrics.pr_curves(truth, probs, run.class_names),
        reliability=metrics.reliability(truth, probs),
        uncalibrated=raw,
        temperature=t,
    )
