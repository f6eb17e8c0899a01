"""core.metrics: the full evaluation against scikit-learn, decide/defect_rates and the safety operating point."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from core import metrics

LABELS = ["normal", "broken", "missing"]
NORMAL = 0


def random_case(seed: int, n: int = 50, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, n)
    probs = rng.dirichlet(np.ones(classes), n)
    probs[np.arange(n), truth] += rng.uniform(0, 0.6, n)  # better than chance, far from perfect
    return truth, probs / probs.sum(axis=1, keepdims=True)


def top2_by_hand(truth: np.ndarray, probs: np.ndarray) -> float:
    best_two = np.argsort(-probs, axis=1)[:, :2]
    return float(np.mean([t in row for t, row in zip(truth, best_two, strict=True)]))


def rates_by_hand(truth, p_normal, threshold) -> tuple[float, float]:
    """Defect recall and false-alarm rate of the rule 'normal only when P(normal) >= threshold'."""
    called_normal = np.asarray(p_normal) >= threshold
    defect = np.asarray(truth) != NORMAL
    recall = float((~called_normal[defect]).mean()) if defect.any() else 1.0
    false_alarm = float((~called_normal[~defect]).mean()) if (~defect).any() else 0.0
    return recall, false_alarm


def reference_threshold(truth, p_normal, target: float) -> float:
    """The documented rule, written independently: thresholds between distinct P(normal) values and the two
    ends; keep those reaching the target defect recall, take the fewest false alarms, ties to the higher one."""
    values = sorted(set(float(v) for v in p_normal))
    candidates = [0.0] + [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)] + [1.0 + 1e-9]
    ok = [
        (rates_by_hand(truth, p_normal, t)[1], -t)
        for t in candidates
        if rates_by_hand(truth, p_normal, t)[0] + 1e-12 >= target
    ]
    return -min(ok)[1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_evaluate_equals_scikit_learn(seed):
    truth, probs = random_case(seed)
    out = metrics.compute_metrics(truth, probs, LABELS)
    pred = probs.argmax(axis=1)
    cm = confusion_matrix(truth, pred, labels=[0, 1, 2])
    assert out["labels"] == LABELS and out["n"] == 50
    assert out["confusion_matrix"] == cm.tolist()
    assert out["accuracy"] == pytest.approx(np.trace(cm) / 50, abs=1e-12)
    for average in ("macro", "micro", "weighted"):
        assert out[f"{average}_f1"] == pytest.approx(f1_score(truth, pred, average=average), abs=1e-12)
    for i, name in enumerate(LABELS):  # per class straight from the confusion matrix
        tp, predicted, support = cm[i, i], cm[:, i].sum(), cm[i].sum()
        precision, recall = tp / predicted if predicted else 0.0, tp / support
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        assert out["per_class"][name] == pytest.approx(
            {"precision": precision, "recall": recall, "f1": f1, "support": support}, abs=1e-12
        )
    assert out["top2_accuracy"] == pytest.approx(top2_by_hand(truth, probs), abs=1e-12)
    assert 0 < out["accuracy"] < out["top2_accuracy"] < 1  # the case is neither trivial nor perfect


def test_evaluate_of_given_decisions_uses_them_not_the_argmax():
    truth, probs = random_case(3)
    decisions = metrics.apply_threshold(probs, NORMAL, 0.9)
    out = metrics.compute_metrics(truth, probs, LABELS, decisions)
    assert out["confusion_matrix"] == confusion_matrix(truth, decisions, labels=[0, 1, 2]).tolist()
    assert out["confusion_matrix"] != metrics.compute_metrics(truth, probs, LABELS)["confusion_matrix"]
    assert out["top2_accuracy"] == pytest.approx(top2_by_hand(truth, probs))  # top-2 is about the probabilities


def test_a_class_absent_from_truth_keeps_every_shape():
    truth = np.array([0, 0, 1, 1, 0, 1])
    probs = np.array(
        [[0.7, 0.2, 0.1], [0.5, 0.1, 0.4], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1]]
    )
    out = metrics.compute_metrics(truth, probs, LABELS)
    assert np.array(out["confusion_matrix"]).shape == (3, 3)
    assert out["confusion_matrix"] == [[3, 0, 0], [0, 2, 1], [0, 0, 0]]
    assert set(out["per_class"]) == set(LABELS)
    assert out["per_class"]["missing"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    p, r, f, s = precision_recall_fscore_support(truth, probs.argmax(1), labels=[0, 1, 2], zero_division=0)
    assert out["macro_f1"] == pytest.approx(f.mean()) and out["per_class"]["broken"]["recall"] == pytest.approx(r[1])
    assert out["top2_accuracy"] == pytest.approx(top2_by_hand(truth, probs))
    assert out["absent"] == ["missing"] and out["averaged"] == LABELS  # predicted once, so it counts (F1 0)
    never = metrics.compute_metrics(truth, np.eye(3)[[0, 0, 1, 0, 0, 1]], LABELS)  # missing: neither true nor predicted
    assert never["per_class"]["missing"]["support"] == 0 and len(never["confusion_matrix"]) == 3
    for average in ("macro", "weighted"):  # the averages cover the classes that occur: normal and broken
        expected = f1_score(truth, [0, 0, 1, 0, 0, 1], labels=[0, 1], average=average, zero_division=0)
        assert never[f"{average}_f1"] == pytest.approx(expected)
    assert never["macro_f1"] == pytest.approx((6 / 7 + 4 / 5) / 2)
    assert never["absent"] == ["missing"] and never["averaged"] == ["normal", "broken"]


def test_a_perfect_model_on_a_split_of_normal_photos_only_scores_one():
    """Issue 13: a perfect model on a test split holding only normal photos showed macro-F1 0.500."""
    truth = np.zeros(8, dtype=int)
    probs = np.tile([0.9, 0.05, 0.05], (8, 1))
    out = metrics.compute_metrics(truth, probs, LABELS)
    assert out["macro_f1"] == out["micro_f1"] == out["weighted_f1"] == out["accuracy"] == 1.0
    assert out["absent"] == ["broken", "missing"] and out["averaged"] == ["normal"]
    assert out["confusion_matrix"] == [[8, 0, 0], [0, 0, 0], [0, 0, 0]]  # shapes still cover every class
    assert metrics.summary(truth.tolist(), probs.argmax(1).tolist(), 3)["macro_f1"] == 1.0  # per epoch and stored


@pytest.mark.parametrize("seed", range(6))
def test_averages_over_present_classes_equal_scikit_learn(seed):
    """Random splits that lack one or two classes (as truth, as prediction, or both) against scikit-learn given
    the labels that occur in the split."""
    rng = np.random.default_rng(seed)
    n, classes = 30, 4
    labels = [f"c{i}" for i in range(classes)]
    order = rng.permutation(classes)
    given, predicted_only = order[:2], order[2:3] if seed % 2 else order[:0]  # order[3] never occurs
    truth = rng.choice(given, n)
    pred = np.where(rng.random(n) < 0.7, truth, rng.choice(np.concatenate([given, predicted_only]), n))
    probs = np.full((n, classes), 0.1)
    probs[np.arange(n), pred] = 0.7
    out = metrics.compute_metrics(truth, probs, labels)
    present = sorted(set(truth.tolist()) | set(pred.tolist()))
    assert int(order[3]) not in present and 0 < out["macro_f1"] < 1
    for average in ("macro", "micro", "weighted"):
        expected = f1_score(truth, pred, labels=present, average=average, zero_division=0)
        assert out[f"{average}_f1"] == pytest.approx(expected, abs=1e-12), average
    assert metrics.summary(truth, pred, classes)["macro_f1"] == pytest.approx(out["macro_f1"], abs=1e-12)
    assert out["averaged"] == [labels[i] for i in present]
    assert out["absent"] == [labels[i] for i in range(classes) if i not in set(truth.tolist())]


def test_an_empty_split_evaluates_to_zeros():
    empty = metrics.compute_metrics([], np.zeros((0, 3)), LABELS)
    assert empty["confusion_matrix"] == [[0] * 3] * 3 and empty["n"] == 0
    assert empty["accuracy"] == empty["macro_f1"] == empty["top2_accuracy"] == 0.0
    assert empty["per_class"]["normal"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert empty["absent"] == LABELS and empty["averaged"] == []


@pytest.mark.parametrize("threshold", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_decide_calls_normal_only_at_or_above_the_threshold(threshold):
    _, probs = random_case(4, n=200)
    probs[:5, NORMAL] = threshold  # exactly on the threshold: normal
    decisions = metrics.apply_threshold(probs, NORMAL, threshold)
    is_normal = decisions == NORMAL
    np.testing.assert_array_equal(is_normal, probs[:, NORMAL] >= threshold)
    # below the threshold: the likeliest defect class, even where normal is the arg-max
    below = ~is_normal
    np.testing.assert_array_equal(decisions[below], 1 + probs[below, 1:].argmax(axis=1))


def test_defect_rates_including_edge_cases():
    truth = [0, 0, 0, 0, 1, 1, 2, 2]
    decisions = [0, 1, 0, 0, 2, 0, 2, 1]  # one false alarm of four; three of four defects caught
    assert metrics.defect_rates(truth, decisions, NORMAL) == (0.75, 0.25)
    assert metrics.defect_rates([0, 0, 0], [0, 1, 1], NORMAL) == (1.0, pytest.approx(2 / 3))  # no defects
    assert metrics.defect_rates([1, 2, 2], [0, 2, 1], NORMAL) == (pytest.approx(2 / 3), 0.0)  # no normals
    assert metrics.defect_rates([], [], NORMAL) == (1.0, 0.0)


def validation_where_argmax_misses_defects() -> tuple[np.ndarray, np.ndarray]:
    """Two defects look a bit normal (P(normal) 0.6, 0.65: arg-max says normal); normals sit higher but one."""
    p_normal = [0.95, 0.9, 0.85, 0.7, 0.55, 0.05, 0.1, 0.3, 0.6, 0.65, 0.2]
    truth = [0, 0, 0, 0, 0, 1, 2, 1, 2, 1, 2]
    probs = np.array([[p, (1 - p) * 0.4, (1 - p) * 0.6] for p in p_normal])
    return np.array(truth), probs


def test_operating_point_reaches_the_target_recall_with_fewest_false_alarms():
    truth, probs = validation_where_argmax_misses_defects()
    argmax_recall, _ = metrics.defect_rates(truth, probs.argmax(axis=1), NORMAL)
    assert argmax_recall == pytest.approx(4 / 6)  # the arg-max misses two defects
    point = metrics.choose_operating_point(truth, probs, NORMAL, target_recall=0.99)
    assert point.threshold == pytest.approx(0.675)  # just above the most normal-looking defect
    assert (point.val_defect_recall, point.val_false_alarm_rate) == (1.0, pytest.approx(0.2))
    assert point.target_recall == 0.99 and point.costs is None
    assert metrics.defect_rates(truth, metrics.apply_threshold(probs, NORMAL, point.threshold), NORMAL) == (1.0, 0.2)
    for t in np.linspace(0, 1.0001, 10002):  # no threshold does better
        recall, false_alarm = rates_by_hand(truth, probs[:, NORMAL], t)
        assert recall < 0.99 or false_alarm >= 0.2 - 1e-12, t
    loose = metrics.choose_operating_point(truth, probs, NORMAL, target_recall=0.6)
    assert loose.threshold == pytest.approx(0.425) and loose.val_false_alarm_rate == 0.0  # below every normal


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("target", [0.5, 0.8, 0.95, 0.99, 1.0])
def test_operating_point_matches_the_documented_rule_by_brute_force(seed, target):
    truth, probs = random_case(seed, n=40)
    probs = np.round(probs, 3)
    point = metrics.choose_operating_point(truth, probs, NORMAL, target_recall=target)
    assert point.threshold == pytest.approx(reference_threshold(truth, probs[:, NORMAL], target), abs=1e-12)
    recall, false_alarm = rates_by_hand(truth, probs[:, NORMAL], point.threshold)
    assert recall >= target and (point.val_defect_recall, point.val_false_alarm_rate) == (recall, false_alarm)
    fewest = min(
        fa for t in np.arange(0, 1.0002, 1e-4) for r, fa in [rates_by_hand(truth, probs[:, NORMAL], t)] if r >= target
    )
    assert false_alarm == fewest


def total_cost(costs, truth, decisions) -> float:
    return float(sum(costs[t][d] for t, d in zip(truth, decisions, strict=True)))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("miss_cost", [1.0, 5.0, 30.0])
def test_cost_matrix_operating_point_has_the_lowest_total_cost(seed, miss_cost):
    truth, probs = random_case(10 + seed, n=60)
    probs = np.round(probs, 3)  # a 1e-4 grid then lands in every gap between P(normal) values
    costs = [[0, 1, 1], [miss_cost, 0, 0.5], [miss_cost, 0.5, 0]]  # [true][predicted]
    point = metrics.choose_operating_point(truth, probs, NORMAL, costs=costs)
    assert point.costs == [[float(c) for c in row] for row in costs] and point.target_recall is None
    chosen = total_cost(costs, truth, metrics.apply_threshold(probs, NORMAL, point.threshold))
    grid = [total_cost(costs, truth, metrics.apply_threshold(probs, NORMAL, t)) for t in np.arange(0, 1.0002, 1e-4)]
    assert chosen == pytest.approx(min(grid), abs=1e-9)
    expected = rates_by_hand(truth, probs[:, NORMAL], point.threshold)
    assert (point.val_defect_recall, point.val_false_alarm_rate) == expected


def test_costly_misses_move_the_threshold_up():
    truth, probs = validation_where_argmax_misses_defects()
    cheap = metrics.choose_operating_point(truth, probs, NORMAL, costs=[[0, 1, 1], [0.1, 0, 0], [0.1, 0, 0]])
    dear = metrics.choose_operating_point(truth, probs, NORMAL, costs=[[0, 1, 1], [50, 0, 0], [50, 0, 0]])
    assert cheap.threshold == pytest.approx(0.425) and cheap.val_false_alarm_rate == 0.0  # misses are cheap
    assert dear.threshold == pytest.approx(0.675) and dear.val_defect_recall == 1.0


def test_operating_point_without_defects_on_validation():
    probs = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.8, 0.1, 0.1]])
    point = metrics.choose_operating_point([0, 0, 0], probs, NORMAL)
    assert point.threshold <= 0.6 and (point.val_defect_recall, point.val_false_alarm_rate) == (1.0, 0.0)
