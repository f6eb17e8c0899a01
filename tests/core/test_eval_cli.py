"""`python -m core evaluate RUN --json`: every number recomputed with scikit-learn from the stored predictions."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from core import jobs, runs
from tests.core.train_helpers import ADMIN, add_demo, cli_json, new_run, run_cli, run_job_here, tiny_config

CONTRACT = {
    "labels",
    "confusion_matrix",
    "accuracy",
    "macro_f1",
    "micro_f1",
    "weighted_f1",
    "per_class",
    "operating_point",
    "top2_accuracy",
    "n",
    "absent",
    "averaged",
    "heatmap_check",  # issue 17 point 5: {"centre_share", "road", "photos"}
    "intervals",  # issue 17 point 3: {"defect_recall", "false_alarm_rate"} on validation and test, as the card
}
EXACT = 1e-9


def trained_run(ws, split: str | None = None, **config) -> runs.Run:
    job_id = jobs.submit(ws.conn, ADMIN, tiny_config(**config))
    assert run_job_here(ws, job_id) == "done"
    return runs.run_for_job(ws.conn, job_id)


def arrays(conn, run, split):
    rows = runs.predictions(conn, run.id, split)
    truth = np.array([run.class_names.index(r["label"]) for r in rows])
    return truth, np.array([r["probs"] for r in rows])


def rates(truth, p_normal, threshold, normal):
    called_normal = p_normal >= threshold
    defect = truth != normal
    recall = (~called_normal[defect]).mean() if defect.any() else 1.0
    return float(recall), float((~called_normal[~defect]).mean()) if (~defect).any() else 0.0


def brute_force_threshold(truth, p_normal, normal, target=0.99):
    """The documented rule on validation: of the thresholds between distinct P(normal) values (and the ends)
    that reach the target defect recall, the one with the fewest false alarms; ties to the higher threshold."""
    values = sorted({float(v) for v in p_normal})
    candidates = [0.0, *((a + b) / 2 for a, b in zip(values, values[1:], strict=False)), 1.0 + 1e-9]
    scored = [(rates(truth, p_normal, t, normal), t) for t in candidates]
    return max((-fa, t) for (recall, fa), t in scored if recall + 1e-12 >= target)[1]


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_evaluate_json_equals_scikit_learn_on_the_stored_predictions(ws):
    add_demo(ws, 60)
    run = trained_run(ws, epochs=6, lr=0.01)  # learns something: neither constant nor perfect predictions
    by_split = Counter(r["split"] for r in runs.predictions(ws.conn, run.id))
    assert by_split["val"] >= 6 and by_split["test"] >= 6, by_split
    out = cli_json(ws.settings.workspace, "evaluate", str(run.id), "--json")
    assert set(out) == CONTRACT

    truth, probs = arrays(ws.conn, run, "test")
    pred = probs.argmax(axis=1)
    index = list(range(len(run.class_names)))
    assert out["labels"] == list(run.class_names) == ["normal", "broken", "missing"]
    assert out["n"] == len(truth) == by_split["test"]
    assert out["confusion_matrix"] == confusion_matrix(truth, pred, labels=index).tolist()
    assert out["accuracy"] == pytest.approx(accuracy_score(truth, pred), abs=EXACT)
    present = sorted(set(truth.tolist()) | set(pred.tolist()))  # averages cover the classes in the split
    assert out["averaged"] == [run.class_names[i] for i in present]
    assert out["absent"] == [name for i, name in enumerate(run.class_names) if i not in set(truth.tolist())]
    for average in ("macro", "micro", "weighted"):
        expected = f1_score(truth, pred, labels=present, average=average, zero_division=0)
        assert out[f"{average}_f1"] == pytest.approx(expected, abs=EXACT), average
    precision, recall, f1, support = precision_recall_fscore_support(truth, pred, labels=index, zero_division=0)
    assert set(out["per_class"]) == set(run.class_names)
    for i, name in enumerate(run.class_names):
        assert out["per_class"][name] == pytest.approx(
            {"precision": precision[i], "recall": recall[i], "f1": f1[i], "support": support[i]}, abs=EXACT
        ), name
    assert out["top2_accuracy"] == pytest.approx(top_k_accuracy_score(truth, probs, k=2, labels=index), abs=EXACT)
    assert len(set(pred.tolist())) > 1, "a constant classifier would make this comparison weak"

    normal = run.class_names.index("normal")
    val_truth, val_probs = arrays(ws.conn, run, "val")
    threshold = brute_force_threshold(val_truth, val_probs[:, normal], normal)
    assert set(out["operating_point"]) == {"threshold", "defect_recall", "false_alarm_rate"}
    assert out["operating_point"]["threshold"] == pytest.approx(threshold, abs=EXACT)
    test_recall, test_false_alarm = rates(truth, probs[:, normal], threshold, normal)
    assert out["operating_point"]["defect_recall"] == pytest.approx(test_recall, abs=EXACT)
    assert out["operating_point"]["false_alarm_rate"] == pytest.approx(test_false_alarm, abs=EXACT)
    assert rates(val_truth, val_probs[:, normal], threshold, normal)[0] >= 0.99  # the target holds on validation
    from core import intervals

    caught = int(sum(1 for t, p in zip(truth, probs[:, normal], strict=True) if t != normal and p < threshold))
    defects = int(sum(1 for t in truth if t != normal))
    got = out["intervals"]["defect_recall"]["test"]
    assert (got["k"], got["n"]) == (caught, defects)  # counted from the stored predictions at the threshold
    exact = intervals.clopper_pearson(caught, defects)
    assert (got["low"], got["high"]) == pytest.approx((exact.low, exact.high), abs=1e-6)

    val = cli_json(ws.settings.workspace, "evaluate", str(run.id), "--split", "val", "--json")
    assert val["n"] == by_split["val"]
    assert val["confusion_matrix"] == confusion_matrix(val_truth, val_probs.argmax(1), labels=index).tolist()
    text = run_cli(ws.settings.workspace, "evaluate", str(run.id))
    assert text.returncode == 0 and f"macro-F1 {out['macro_f1']:.4f}" in text.stdout


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_evaluate_of_an_unknown_or_unfinished_run_exits_2(ws):
    add_demo(ws, 30)
    unfinished = new_run(ws, tiny_config())
    proc = run_cli(ws.settings.workspace, "evaluate", str(unfinished.id), "--json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"run {unfinished.id} has not finished" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(ws.settings.workspace, "evaluate", "99", "--json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "run 99 does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_evaluate_of_a_run_without_test_photos_answers_cleanly(ws):
    add_demo(ws, 30, split="train")  # validation is held out of train; the run has no test photos
    run = trained_run(ws, epochs=1)
    assert run.test_macro_f1 is None
    proc = run_cli(ws.settings.workspace, "evaluate", str(run.id), "--json")
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 2), proc.stderr[-2000:]
