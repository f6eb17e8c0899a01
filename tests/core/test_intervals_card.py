"""The exported model card carries defect recall and false-alarm rate at the operating point it ships with, on
validation and test, with their 95% intervals, counts, the target and the defect photos the target needs."""

from __future__ import annotations

import json

import pytest

from core import evaluation, intervals
from core.ml import export
from tests.core.train_helpers import ADMIN, promoted_tiny_run


@pytest.mark.slow  # a tiny run trained and exported in-process: over 5 s on a 2-core machine
def test_the_card_carries_the_intervals_of_the_threshold_it_ships_with(ws, tmp_path):
    run = promoted_tiny_run(ws)
    card = export.export_run(ws, ADMIN, run.id, "torchscript", tmp_path / "bolts.pt")
    assert json.loads((tmp_path / "bolts.pt.card.json").read_text()) == card
    recall, alarm = card["defect_recall"], card["false_alarm_rate"]
    # counted again from the test summary's confusion matrix at the stored point: [given][decided]
    summary = evaluation.summarize_run(ws.conn, run.id, "test")
    matrix, normal = summary["operating_point"]["confusion_matrix"], run.class_names.index(evaluation.NORMAL)
    defects = sum(sum(row) for g, row in enumerate(matrix) if g != normal)
    missed = sum(row[normal] for g, row in enumerate(matrix) if g != normal)
    assert (recall["test"]["k"], recall["test"]["n"]) == (defects - missed, defects) and defects > 0
    assert recall["test"]["value"] == pytest.approx(summary["operating_point"]["defect_recall"])
    assert (alarm["test"]["k"], alarm["test"]["n"]) == (
        sum(matrix[normal]) - matrix[normal][normal],
        sum(matrix[normal]),
    )
    assert alarm["test"]["value"] == pytest.approx(summary["operating_point"]["false_alarm_rate"])
    for rate in (recall["validation"], recall["test"], alarm["validation"], alarm["test"]):
        assert rate["method"] == "clopper-pearson" and rate["confidence"] == 0.95
        exact = intervals.clopper_pearson(rate["k"], rate["n"])
        assert (rate["low"], rate["high"]) == (exact.low, exact.high)
        assert rate["n"] == 0 or rate["low"] <= rate["value"] <= rate["high"]
    assert card["operating_point"]["threshold"] == pytest.approx(evaluation.operating_point(ws.conn, run).threshold)
    # the default target 0.99 needs 368 defect photos, all caught; a tiny demo run has a handful
    assert recall["target_recall"] == 0.99 and recall["defect_photos_needed"] == 368 and recall["supported"] is False
