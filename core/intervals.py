"""95% intervals for a proportion k of n (Wilson, Clopper–Pearson), how many defect photos a target recall needs,
and an operating point's defect recall and false-alarm rate on validation and test with their intervals."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import TypedDict

from core import evaluation, metrics, runs
from core.errors import ValidationError

CONFIDENCE = 0.95
SHOWN_METHOD = "clopper-pearson"  # what the page and the model card show, and what photos_needed counts with
SHOWN_SPLITS = ("val", "test")  # where an operating point's rates are shown: chosen on val, checked on test


class IntervalJson(TypedDict):
    """An interval as the model card writes it."""

    value: float | None
    low: float | None
    high: float | None
    k: int
    n: int
    method: str
    confidence: float


@dataclass(frozen=True)
class Interval:
    """k of n with its two-sided interval. n == 0 (no photo): no value and no bounds, None, never a guess."""

    k: int
    n: int
    low: float | None
    high: float | None
    method: str
    confidence: float

    @property
    def value(self) -> float | None:
        return self.k / self.n if self.n else None

    def to_json(self) -> IntervalJson:
        return IntervalJson(value=self.value, **asdict(self))


def _checked(k: int, n: int, confidence: float) -> None:
    if not (0 <= k <= n and 0 < confidence < 1):
        raise ValidationError(
            f"an interval needs 0 <= k <= n and a confidence between 0 and 1 (k={k}, n={n}, {confidence})",
            key="intervals.error.counts",
            k=k,
            n=n,
        )


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> Interval:
    """Wilson's score interval: the p whose score test does not reject k of n, (k - np)² <= z² n p (1-p)."""
    _checked(k, n, confidence)
    if n == 0:
        return Interval(k, n, None, None, "wilson", confidence)
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # at k = 0 or k = n the bound is 0 or 1 exactly; rounding must not leave it a hair inside
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return Interval(k, n, low, high, "wilson", confidence)


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> Interval:
    """The exact (Clopper–Pearson) interval: each bound is the p at which the binomial tail beyond k holds
    (1 - confidence) / 2, from the beta distribution's inverse. Conservative: it covers at least `confidence`."""
    from scipy.special import betaincinv  # scipy comes with scikit-learn; imported here, where it is needed

    _checked(k, n, confidence)
    if n == 0:
        return Interval(k, n, None, None, "clopper-pearson", confidence)
    tail = (1 - confidence) / 2
    low = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, tail))
    high = 1.0 if k == n else float(betaincinv(k + 1, n - k, 1 - tail))
    return Interval(k, n, low, high, "clopper-pearson", confidence)


METHODS: dict[str, Callable[[int, int, float], Interval]] = {"wilson": wilson, "clopper-pearson": clopper_pearson}


def photos_needed(target: float, method: str = SHOWN_METHOD, confidence: float = CONFIDENCE) -> int | None:
    """The fewest photos n that can show a proportion of at least target: with all n right (k = n), the
    interval's lower bound reaches the target. Clopper–Pearson's is (tail)^(1/n), so n >= ln(0.025) / ln(target)
    at 95%. None for a target of 1, which no number of photos shows."""
    if not 0 < target <= 1:
        raise ValidationError(f"target {target} must be above 0 and at most 1", key="intervals.error.target")
    if target == 1:
        return None
    interval = METHODS[method]

    def enough(n: int) -> bool:
        return (interval(n, n, confidence).low or 0.0) >= target

    high = 1
    while not enough(high):  # the lower bound at k = n rises with n towards 1: double, then halve the gap
        high *= 2
    low = high // 2  # not enough (or 0)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


@dataclass(frozen=True)
class SplitRates:
    """One split at an operating point: defect recall (defects not called normal, of the defect photos), the
    false-alarm rate (normals called a defect, of the normal photos), each with its interval; and the lower bound
    a perfect result on these defect photos would give, the most they could show."""

    split: str
    defect_recall: Interval
    false_alarm_rate: Interval
    best_low: float | None


@dataclass(frozen=True)
class PointRates:
    """An operating point's rates on validation and test, and whether their defect photos can show its target."""

    target: float | None  # None: chosen from a cost matrix, no target to show
    needed: int | None  # defect photos a split needs to show the target; None: no target, or a target of 1
    splits: tuple[SplitRates, ...]

    @property
    def short(self) -> tuple[SplitRates, ...]:
        """The splits with too few defect photos: even catching every one leaves the lower bound below target."""
        if self.target is None:
            return ()
        return tuple(s for s in self.splits if self.needed is None or s.defect_recall.n < self.needed)


def split_rates(
    run: runs.Run, effect: evaluation.OperatingEffect, split: str, method: str = SHOWN_METHOD
) -> SplitRates:
    """Counts from the effect's confusion matrix [given][decided]: a defect is caught when not decided normal."""
    normal = run.class_names.index(evaluation.NORMAL)
    matrix = effect.confusion_matrix  # every class's row and column, zeros on an empty split
    defect_rows = [row for given, row in enumerate(matrix) if given != normal]
    defects = sum(map(sum, defect_rows))
    caught = defects - sum(row[normal] for row in defect_rows)
    normals = sum(matrix[normal])
    alarms = normals - matrix[normal][normal]
    interval = METHODS[method]
    return SplitRates(
        split,
        interval(caught, defects, CONFIDENCE),
        interval(alarms, normals, CONFIDENCE),
        interval(defects, defects, CONFIDENCE).low,
    )


def point_rates(
    conn: sqlite3.Connection, run: runs.Run, point: metrics.OperatingPoint, method: str = SHOWN_METHOD
) -> PointRates:
    """The point's rates on validation and test from the run's stored predictions (evaluation.operating_effect)."""
    splits = tuple(
        split_rates(run, evaluation.operating_effect(conn, run, point, split), split, method) for split in SHOWN_SPLITS
    )
    target = point.target_recall
    return PointRates(target, None if target is None else photos_needed(target, method), splits)


class RatesCard(TypedDict):
    """A rate on validation and test as the model card writes it."""

    validation: IntervalJson
    test: IntervalJson


class RecallCard(RatesCard):
    """Defect recall in the model card, with the target and how many defect photos can show it."""

    target_recall: float | None
    defect_photos_needed: int | None
    supported: bool | None  # every split has enough defect photos to show the target; None: no target


def card_rates(rates: PointRates) -> tuple[RecallCard, RatesCard]:
    """The model card's "defect_recall" and "false_alarm_rate"."""
    by = {s.split: s for s in rates.splits}
    recall = RecallCard(
        validation=by["val"].defect_recall.to_json(),
        test=by["test"].defect_recall.to_json(),
        target_recall=rates.target,
        defect_photos_needed=rates.needed,
        supported=None if rates.target is None else not rates.short,
    )
    false_alarm = RatesCard(validation=by["val"].false_alarm_rate.to_json(), test=by["test"].false_alarm_rate.to_json())
    return recall, false_alarm
