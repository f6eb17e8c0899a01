"""Pure functions over predictions: summaries, the full evaluation, and the safety operating point.

scikit-learn underneath with zero_division=0. Shapes (confusion matrix, per-class rows) always cover every
class (labels=range(n)); averages cover the classes that occur in the split, as truth or as prediction, so a
class with no photo and no prediction there neither counts as a zero nor hides (the result names it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TypedDict

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

DEFAULT_TARGET_RECALL = 0.99


def present(truth: Sequence[int], predicted: Sequence[int]) -> list[int]:
    """The class indices that occur in a split, as a given label or as a prediction: what averages cover."""
    return sorted({int(v) for v in truth} | {int(v) for v in predicted})


def summary(targets: Sequence[int], predicted: Sequence[int], num_classes: int) -> dict[str, float]:
    """Accuracy and macro-F1 over the classes present (see present()), the same figure compute_metrics() gives,
    so the run table, the comparison and promotion never disagree about which run is better."""
    if len(targets) == 0:
        return {"accuracy": 0.0, "macro_f1": 0.0, "n": 0}
    return {
        "accuracy": float(accuracy_score(targets, predicted)),
        "macro_f1": float(
            f1_score(targets, predicted, labels=present(targets, predicted), average="macro", zero_division=0)
        ),
        "n": len(targets),
    }


class ClassFigures(TypedDict):
    precision: float
    recall: float
    f1: float
    support: int


class Metrics(TypedDict):
    """compute_metrics' answer; `evaluate --json` prints these keys (the CLI contract)."""

    labels: list[str]
    n: int
    confusion_matrix: list[list[int]]  # [true][predicted]
    accuracy: float
    top2_accuracy: float
    macro_f1: float
    micro_f1: float
    weighted_f1: float
    per_class: dict[str, ClassFigures]
    absent: list[str]  # classes with no photo in the split
    averaged: list[str]  # the classes the F1 averages cover


def compute_metrics(
    truth: Sequence[int], probs: np.ndarray, labels: Sequence[str], predicted: Sequence[int] | None = None
) -> Metrics:
    """Confusion matrix, accuracy, macro/micro/weighted F1, per-class P/R/F1/support and top-2 accuracy.

    predicted defaults to the arg-max of probs; pass the operating point's decisions to evaluate those.
    The F1 averages cover the classes present (see present()); "absent" names the classes with no photo in
    the split and "averaged" those the averages cover.
    """
    n = len(labels)
    index = list(range(n))
    truth = np.asarray(truth, dtype=int)
    probs = np.asarray(probs, dtype=float).reshape(len(truth), n)
    pred = probs.argmax(axis=1) if predicted is None else np.asarray(predicted, dtype=int)
    if len(truth) == 0:  # an empty split: zeros in every shape, not scikit-learn's ValueError
        return Metrics(
            labels=list(labels),
            n=0,
            confusion_matrix=[[0] * n for _ in range(n)],
            accuracy=0.0,
            top2_accuracy=0.0,
            macro_f1=0.0,
            micro_f1=0.0,
            weighted_f1=0.0,
            per_class={name: ClassFigures(precision=0.0, recall=0.0, f1=0.0, support=0) for name in labels},
            absent=list(labels),
            averaged=[],
        )
    precision, recall, f1, support = precision_recall_fscore_support(truth, pred, labels=index, zero_division=0)
    averaged = present(truth, pred)
    f1s = {
        average: float(f1_score(truth, pred, labels=averaged, average=average, zero_division=0))
        for average in ("macro", "micro", "weighted")
    }
    return Metrics(
        labels=list(labels),
        n=int(len(truth)),
        confusion_matrix=confusion_matrix(truth, pred, labels=index).tolist(),
        accuracy=float(accuracy_score(truth, pred)),
        top2_accuracy=_top2(truth, probs),
        macro_f1=f1s["macro"],
        micro_f1=f1s["micro"],
        weighted_f1=f1s["weighted"],
        per_class={
            name: ClassFigures(
                precision=float(precision[i]), recall=float(recall[i]), f1=float(f1[i]), support=int(support[i])
            )
            for i, name in enumerate(labels)
        },
        absent=[name for i, name in enumerate(labels) if not support[i]],
        averaged=[labels[i] for i in averaged],
    )


def _top2(truth: np.ndarray, probs: np.ndarray) -> float:
    if len(truth) == 0:
        return 0.0
    if probs.shape[1] <= 2:
        return 1.0  # with two classes the right one is always among the top two
    return float(top_k_accuracy_score(truth, probs, k=2, labels=list(range(probs.shape[1]))))


@dataclass(frozen=True)
class OperatingPoint:
    """Call a photo normal only when P(normal) >= threshold; otherwise the likeliest defect class."""

    threshold: float
    target_recall: float | None  # the rule that chose it: a target defect recall ...
    costs: list[list[float]] | None  # ... or a cost matrix [true][predicted]
    val_defect_recall: float
    val_false_alarm_rate: float

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def apply_threshold(probs: np.ndarray, normal: int, threshold: float) -> np.ndarray:
    """Class decisions at an operating point: normal only when P(normal) >= threshold."""
    probs = np.asarray(probs, dtype=float)
    defect_probs = probs.copy()
    defect_probs[:, normal] = -1.0
    return np.where(probs[:, normal] >= threshold, normal, defect_probs.argmax(axis=1))


def defect_rates(truth: Sequence[int], decisions: Sequence[int], normal: int) -> tuple[float, float]:
    """(defect recall, false-alarm rate): defects not called normal; normals called a defect."""
    truth, decisions = np.asarray(truth), np.asarray(decisions)
    defect, healthy = truth != normal, truth == normal
    recall = float((decisions[defect] != normal).mean()) if defect.any() else 1.0
    false_alarm = float((decisions[healthy] != normal).mean()) if healthy.any() else 0.0
    return recall, false_alarm


def _candidates(p_normal: np.ndarray) -> np.ndarray:
    """Thresholds halfway between consecutive distinct P(normal) values (never on a photo), plus the ends."""
    values = np.unique(np.clip(p_normal, 0.0, 1.0))
    middles = (values[:-1] + values[1:]) / 2 if len(values) > 1 else np.array([])
    return np.unique(np.concatenate([[0.0], middles, [1.0 + 1e-9]]))


def choose_operating_point(
    truth: Sequence[int],
    probs: np.ndarray,
    normal: int,
    target_recall: float | None = DEFAULT_TARGET_RECALL,
    costs: Sequence[Sequence[float]] | None = None,
) -> OperatingPoint:
    """On validation predictions: the threshold on P(normal) that reaches the target defect recall with
    the fewest false alarms, or (given costs[true][predicted]) the one with the lowest total cost."""
    truth = np.asarray(truth, dtype=int)
    probs = np.asarray(probs, dtype=float)
    best = None
    for threshold in _candidates(probs[:, normal]):
        decisions = apply_threshold(probs, normal, threshold)
        recall, false_alarm = defect_rates(truth, decisions, normal)
        if costs is not None:
            key = (float(sum(costs[t][d] for t, d in zip(truth, decisions, strict=True))), false_alarm)
        elif recall + 1e-12 >= target_recall:
            key = (false_alarm, -recall)
        else:
            continue
        # ties on validation: the higher threshold, which leaves the larger margin for defects
        if best is None or key < best[0] or (key == best[0] and threshold > best[1]):
            best = (key, float(threshold), recall, false_alarm)
    if best is None:  # unreachable target (no defects at all, say): the strictest point
        decisions = apply_threshold(probs, normal, 1.0 + 1e-9)
        recall, false_alarm = defect_rates(truth, decisions, normal)
        best = (None, 1.0 + 1e-9, recall, false_alarm)
    _, threshold, recall, false_alarm = best
    return OperatingPoint(
        min(threshold, 1.0 + 1e-9),
        None if costs is not None else target_recall,
        [list(map(float, row)) for row in costs] if costs is not None else None,
        recall,
        false_alarm,
    )


class PrCurve(TypedDict):
    precision: list[float]
    recall: list[float]
    ap: float  # average precision


def pr_curves(truth: Sequence[int], probs: np.ndarray, labels: Sequence[str]) -> dict[str, PrCurve]:
    """One-vs-rest precision-recall curve and average precision per class (classes with photos only)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    truth = np.asarray(truth, dtype=int)
    out: dict[str, PrCurve] = {}
    for i, name in enumerate(labels):
        positive = truth == i
        if positive.any() and (~positive).any():
            precision, recall, _ = precision_recall_curve(positive, probs[:, i])
            out[name] = PrCurve(
                precision=precision.tolist(),
                recall=recall.tolist(),
                ap=float(average_precision_score(positive, probs[:, i])),
            )
    return out


class ReliabilityBin(TypedDict):
    low: float
    high: float
    confidence: float  # the mean top probability of the bin's photos
    accuracy: float
    count: int


class Reliability(TypedDict):
    bins: list[ReliabilityBin]
    ece: float  # expected calibration error


def reliability(truth: Sequence[int], probs: np.ndarray, bins: int = 10) -> Reliability:
    """Confidence vs accuracy in equal-width bins of the top probability, and the expected calibration error."""
    truth = np.asarray(truth, dtype=int)
    confidence = probs.max(axis=1) if len(truth) else np.zeros(0)
    correct = (probs.argmax(axis=1) == truth) if len(truth) else np.zeros(0, dtype=bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows: list[ReliabilityBin] = []
    ece = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            conf, acc = float(confidence[members].mean()), float(correct[members].mean())
            ece += members.mean() * abs(acc - conf)
            rows.append(
                ReliabilityBin(
                    low=float(edges[b]),
                    high=float(edges[b + 1]),
                    confidence=conf,
                    accuracy=acc,
                    count=int(members.sum()),
                )
            )
    return Reliability(bins=rows, ece=float(ece))
