"""Pure functions over predictions: accuracy and macro-F1 with a fixed label set (scikit-learn)."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.metrics import accuracy_score, f1_score


def summary(targets: Sequence[int], predicted: Sequence[int], num_classes: int) -> dict[str, float]:
    """Accuracy and macro-F1 over the classes that occur in the split (as truth or as prediction).

    A class with no photo in a small split and never predicted there is left out of the average rather
    than counted as F1 = 0, which would punish a perfect model for the split's make-up.
    """
    if len(targets) == 0:
        return {"accuracy": 0.0, "macro_f1": 0.0, "n": 0}
    present = sorted(({int(t) for t in targets} | {int(p) for p in predicted}) & set(range(num_classes)))
    return {
        "accuracy": float(accuracy_score(targets, predicted)),
        "macro_f1": float(f1_score(targets, predicted, labels=present, average="macro", zero_division=0)),
        "n": len(targets),
    }
