"""evaluation.operating_effect: what a threshold chosen on validation does on the test split, equal to the
arithmetic the Evaluate page did itself before (metrics.apply_threshold, defect_rates, evaluate) and to scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from core import evaluation, metrics, runs
from tests.core.train_helpers import add_demo, new_run, tiny_config


def random_run(ws, seed: int, test: int = 18) -> runs.Run:
    """A finished run over 6 train, 12 validation and `test` test demo photos with random (better than chance)
    probabilities stored as its predictions."""
    add_demo(ws, 6, split="train", start=40)
    add_demo(ws, 12, split="val")
    if test:
        add_demo(ws, test, split="test", start=12)
    run = new_run(ws, tiny_config())
    names = list(run.class_names)
    rng = np.random.default_rng(seed)
    rows = []
    for item in runs.snapshot(ws.conn, run.id):
        probs = rng.dirichlet(np.ones(len(names)))
        probs[names.index(item.label)] += rng.uniform(0, 0.8)
        probs = (probs / probs.sum()).tolist()
        rows.append((item.image_id, item.split, names[int(np.argmax(probs))], probs))
    runs.finish_run(ws.conn, run.id, 1, {}, None, rows)
    return runs.get_run(ws.conn, run.id)


def page_arithmetic(ws, run: runs.Run, threshold: float) -> tuple[float, float, list[list[int]]]:
    """What pages/evaluate_panels.operating_point computed in the page before (baseline b412fd3)."""
    normal = run.class_names.index(evaluation.NORMAL)
    rows = runs.predictions(ws.conn, run.id, "test")
    truth = [run.class_names.index(r["label"]) for r in rows]
    probs = [r["probs"] for r in rows]
    decisions = metrics.apply_threshold(probs, normal, threshold)
    recall, false_alarm = metrics.defect_rates(truth, decisions, normal)
    return recall, false_alarm, metrics.compute_metrics(truth, probs, run.class_names, decisions)["confusion_matrix"]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("target", [0.8, 0.95, 1.0])
def test_operating_effect_equals_the_pages_arithmetic_and_scikit_learn(ws, seed, target):
    run = random_run(ws, seed)
    point = evaluation.operating_point(ws.conn, run, target_recall=target)
    effect = evaluation.operating_effect(ws.conn, run, point)
    recall, false_alarm, matrix = page_arithmetic(ws, run, point.threshold)
    assert (effect.threshold, effect.n) == (point.threshold, 18)
    assert effect.defect_recall == pytest.approx(recall, abs=1e-12)
    assert effect.false_alarm_rate == pytest.approx(false_alarm, abs=1e-12)
    assert effect.confusion_matrix == matrix
    # scikit-learn on the decisions of the rule "normal only when P(normal) >= threshold", written out here
    rows = runs.predictions(ws.conn, run.id, "test")
    normal = run.class_names.index(evaluation.NORMAL)
    truth = [run.class_names.index(r["label"]) for r in rows]
    decided = []
    for r in rows:
        defects = [p if i != normal else -1.0 for i, p in enumerate(r["probs"])]
        decided.append(normal if r["probs"][normal] >= point.threshold else int(np.argmax(defects)))
    labels = list(range(len(run.class_names)))
    assert effect.confusion_matrix == confusion_matrix(truth, decided, labels=labels).tolist()
    # evaluate --json and promotion read the same figures
    stored = evaluation.summarize_run(ws.conn, run.id)["operating_point"]
    assert stored is not None and stored["target_recall"] == pytest.approx(metrics.DEFAULT_TARGET_RECALL)
    default = evaluation.operating_effect(ws.conn, run, evaluation.operating_point(ws.conn, run))
    assert (stored["defect_recall"], stored["false_alarm_rate"], stored["confusion_matrix"]) == (
        default.defect_recall,
        default.false_alarm_rate,
        default.confusion_matrix,
    )


def test_operating_effect_on_an_empty_split_has_n_zero_and_a_zero_matrix(ws):
    run = random_run(ws, 3, test=0)
    point = evaluation.operating_point(ws.conn, run)
    effect = evaluation.operating_effect(ws.conn, run, point)
    n = len(run.class_names)
    assert effect.n == 0 and effect.confusion_matrix == [[0] * n for _ in range(n)]
    assert evaluation.operating_effect(ws.conn, run, point, "val").n == 12
