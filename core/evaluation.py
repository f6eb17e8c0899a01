"""A run's evaluation from its stored predictions, its safety operating point, promotion, comparison."""

from __future__ import annotations

import sqlite3

import numpy as np

from core import auth, metrics, runs, zoo
from core.errors import ValidationError

NORMAL = "normal"  # the one class that is not a defect; every other class is


def _arrays(conn: sqlite3.Connection, run: runs.Run, split: str) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    rows = runs.predictions(conn, run.id, split)
    index = {name: i for i, name in enumerate(run.class_names)}
    truth = np.array([index[r["label"]] for r in rows], dtype=int)
    probs = np.array([r["probs"] for r in rows], dtype=float).reshape(len(rows), len(run.class_names))
    return truth, probs, rows


def finished_run(conn: sqlite3.Connection, run_id: int) -> runs.Run:
    run = runs.get_run(conn, run_id)
    if not run.finished:
        raise ValidationError(f"run {run_id} has not finished; it has no predictions to evaluate yet")
    return run


def operating_point(conn: sqlite3.Connection, run: runs.Run, target_recall: float | None = None,
                    costs: list[list[float]] | None = None) -> metrics.OperatingPoint | None:
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
        raise ValidationError(f"the cost matrix must be {len(run.class_names)}×{len(run.class_names)}")
    return metrics.choose_operating_point(truth, probs, run.class_names.index(NORMAL), target_recall, costs)


def store_operating_point(conn: sqlite3.Connection, actor: auth.Actor, run_id: int, target_recall: float | None = None,
                          costs: list[list[float]] | None = None) -> metrics.OperatingPoint:
    auth.require(actor, "promote")
    if target_recall is not None and not 0.5 <= target_recall <= 1.0:
        raise ValidationError(f"target defect recall {target_recall} must be between 0.5 and 1")
    run = finished_run(conn, run_id)
    point = operating_point(conn, run, target_recall or (None if costs else metrics.DEFAULT_TARGET_RECALL), costs)
    if point is None:
        raise ValidationError(f"run {run_id} has no '{NORMAL}' class or no validation photos, so there is no "
                              "defect threshold to choose")
    runs.set_operating_point(conn, actor, run_id, point.to_json())
    return point


def evaluate_run(conn: sqlite3.Connection, run_id: int, split: str = "test") -> dict[str, object]:
    """Every figure of the Evaluate page and `evaluate --json` for one split of a finished run."""
    run = finished_run(conn, run_id)
    truth, probs, rows = _arrays(conn, run, split)
    out = metrics.evaluate(truth, probs, run.class_names)
    out.update(run_id=run.id, split=split, image_ids=[r["image_id"] for r in rows])
    point = operating_point(conn, run)
    if point is not None:
        normal = run.class_names.index(NORMAL)
        decisions = metrics.decide(probs, normal, point.threshold)
        recall, false_alarm = metrics.defect_rates(truth, decisions, normal)
        out["operating_point"] = {"threshold": point.threshold, "defect_recall": recall,
                                  "false_alarm_rate": false_alarm, "target_recall": point.target_recall,
                                  "confusion_matrix": metrics.evaluate(truth, probs, run.class_names,
                                                                       decisions)["confusion_matrix"]}
    else:
        out["operating_point"] = None
    return out


def promote(conn: sqlite3.Connection, actor: auth.Actor, run_id: int, force: bool = False) -> dict[str, object]:
    """Make a run the production model, unless it is worse on the same locked test set than the current one."""
    auth.require(actor, "promote")
    run = finished_run(conn, run_id)
    current_id = runs.production_run_id(conn)
    if current_id == run_id:
        raise ValidationError(f"run {run_id} is already the production model")
    reason = "first production model"
    if current_id is not None:
        current = runs.get_run(conn, current_id)
        mine = {r["image_id"] for r in runs.predictions(conn, run.id, "test")}
        theirs = {r["image_id"] for r in runs.predictions(conn, current.id, "test")}
        new_f1 = evaluate_run(conn, run.id)["macro_f1"]
        old_f1 = evaluate_run(conn, current.id)["macro_f1"]
        if mine != theirs and not force:
            raise ValidationError(f"run {run_id} was tested on other photos than production run {current_id}; "
                                  "lock the test split so runs compare, or promote with --force")
        if new_f1 < old_f1 and not force:
            raise ValidationError(f"run {run_id} has test macro-F1 {new_f1:.4f}, below production run {current_id}'s "
                                  f"{old_f1:.4f}; promote with --force to override")
        reason = f"test macro-F1 {new_f1:.4f} vs {old_f1:.4f} (run {current_id})" + \
            (", forced by the user" if force and (new_f1 < old_f1 or mine != theirs) else "")
    runs.record_promotion(conn, actor, run_id, force, reason)
    return {"run_id": run_id, "previous_run_id": current_id, "forced": force, "reason": reason}


def compare_runs(conn: sqlite3.Connection) -> list[dict[str, object]]:
    """One row per finished run: the model-selection table engineers otherwise build by hand."""
    rows, production = [], runs.production_run_id(conn)
    for run in runs.list_runs(conn):
        if not run.finished:
            continue
        history = runs.epochs(conn, run.id)
        arch = zoo.ARCHES[run.arch]
        point = evaluate_run(conn, run.id).get("operating_point") if run.test_macro_f1 is not None else None
        rows.append({
            "run_id": run.id, "kind": run.kind, "arch": run.arch, "pretrained": bool(run.weights.get("used")),
            "params_m": arch.params_m, "gflops": arch.gflops(run.config.image_size),
            "image_size": run.config.image_size, "epochs": len(history),
            "train_s": sum(e.seconds or 0 for e in history),
            "images_per_s": float(np.mean([e.images_per_s for e in history if e.images_per_s])) if history else None,
            "accuracy": run.test_accuracy, "macro_f1": run.test_macro_f1,
            "defect_recall": point["defect_recall"] if point else None, "cpu_ms": run.cpu_ms,
            "production": run.id == production,
        })
    return rows


def cell_photos(conn: sqlite3.Connection, run_id: int, split: str, given: str, predicted: str) -> list[dict]:
    """The stored predictions in one confusion-matrix cell: given (snapshot) label and predicted label."""
    return [row for row in runs.predictions(conn, run_id, split)
            if row["label"] == given and row["predicted"] == predicted]


def curve_data(conn: sqlite3.Connection, run_id: int, split: str) -> dict[str, object]:
    """Per-class precision-recall curves and the reliability diagram (with ECE) of one split."""
    run = finished_run(conn, run_id)
    truth, probs, _ = _arrays(conn, run, split)
    return {"pr": metrics.pr_curves(truth, probs, run.class_names), "reliability": metrics.reliability(truth, probs)}
