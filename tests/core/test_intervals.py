"""core.intervals: Wilson and Clopper–Pearson against brute-force binomial sums and published values, the edges
(k = 0, k = n, n = 0), the defect photos a target needs against a scan, and an operating point's counts."""

from __future__ import annotations

import math

import pytest

from core import evaluation, intervals, metrics, store
from core.errors import ValidationError
from tests.core.test_eval_promote import crafted_run
from tests.core.train_helpers import add_demo

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed term by term."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def lower_tail(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed term by term."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(0, k + 1))


def test_clopper_pearson_bounds_are_where_the_binomial_tails_hold_2_5_percent():
    """The exact interval's definition: P(X >= k | low) = 0.025 and P(X <= k | high) = 0.025, and just inside
    the interval each tail is above 0.025 (so no tighter bound would do)."""
    checked = 0
    for n in range(1, 61):
        for k in range(n + 1):
            ci = intervals.clopper_pearson(k, n)
            assert ci.value == k / n and 0 <= ci.low <= k / n <= ci.high <= 1
            if k == 0:
                assert ci.low == 0.0
            else:
                assert upper_tail(k, n, ci.low) == pytest.approx(0.025, abs=1e-9), (k, n)
                assert upper_tail(k, n, ci.low + 1e-6) > 0.025
            if k == n:
                assert ci.high == 1.0
            else:
                assert lower_tail(k, n, ci.high) == pytest.approx(0.025, abs=1e-9), (k, n)
                assert lower_tail(k, n, ci.high - 1e-6) > 0.025
            checked += 1
    assert checked == sum(n + 1 for n in range(1, 61))


def test_clopper_pearson_with_every_photo_right_starts_at_the_tail_to_the_power_one_over_n():
    for n in (1, 5, 17, 80, 368, 3688):
        assert intervals.clopper_pearson(n, n).low == pytest.approx(0.025 ** (1 / n), rel=1e-12)
        assert intervals.clopper_pearson(0, n).high == pytest.approx(1 - 0.025 ** (1 / n), rel=1e-9)


def test_wilson_bounds_are_where_the_score_test_is_on_the_edge():
    """Wilson's interval inverts the score test: at each bound (k - n p)^2 = z^2 n p (1 - p); inside it less."""
    for n in range(1, 61):
        for k in range(n + 1):
            ci = intervals.wilson(k, n)
            assert 0 <= ci.low <= k / n <= ci.high <= 1
            for p in (ci.low, ci.high):
                assert (k - n * p) ** 2 == pytest.approx(Z95**2 * n * p * (1 - p), abs=1e-7), (k, n, p)
            middle = (ci.low + ci.high) / 2
            assert (k - n * middle) ** 2 < Z95**2 * n * middle * (1 - middle)


def coverage(method: str, n: int, p: float) -> float:
    """The chance that the interval of k of n covers p, summed exactly over k ~ Binomial(n, p)."""
    cis = [intervals.METHODS[method](k, n, 0.95) for k in range(n + 1)]
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k, ci in enumerate(cis) if ci.low <= p <= ci.high)


def test_clopper_pearson_covers_at_least_95_percent_and_wilson_about_95_on_average():
    """Exact coverage by summing the binomial over every outcome: Clopper–Pearson never below 95% (it is exact in
    that sense); Wilson's averages near 95% over p, though it dips below at some p."""
    grid = [i / 200 for i in range(1, 200)]
    for n in (5, 17, 40, 80):
        exact = [coverage("clopper-pearson", n, p) for p in grid]
        assert min(exact) >= 0.95 - 1e-9, n
        score = [coverage("wilson", n, p) for p in grid]
        assert 0.93 < sum(score) / len(score) < 0.97 and min(score) < 0.95, n


# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Statistics in Medicine 17,
# Table II: method 3 (Wilson score) and method 5 (Clopper–Pearson exact), to 4 decimals.
PUBLISHED = [
    (81, 263, (0.2553, 0.3662), (0.2527, 0.3676)),
    (15, 148, (0.0624, 0.1605), (0.0578, 0.1617)),
    (0, 20, (0.0, 0.1611), (0.0, 0.1684)),
    (1, 29, (0.0061, 0.1718), (0.0009, 0.1776)),
]


@pytest.mark.parametrize("k, n, wilson, exact", PUBLISHED)
def test_both_intervals_agree_with_published_values(k, n, wilson, exact):
    w, cp = intervals.wilson(k, n), intervals.clopper_pearson(k, n)
    assert (round(w.low, 4), round(w.high, 4)) == wilson
    assert (round(cp.low, 4), round(cp.high, 4)) == exact


@pytest.mark.parametrize("method", list(intervals.METHODS))
def test_no_photo_gives_no_interval_and_bad_counts_are_refused(method):
    empty = intervals.METHODS[method](0, 0, 0.95)
    assert (empty.value, empty.low, empty.high, empty.k, empty.n) == (None, None, None, 0, 0)
    assert empty.to_json() == {
        "value": None,
        "low": None,
        "high": None,
        "k": 0,
        "n": 0,
        "method": method,
        "confidence": 0.95,
    }
    for k, n in ((3, 2), (-1, 4), (0, -1)):
        with pytest.raises(ValidationError) as refused:
            intervals.METHODS[method](k, n, 0.95)
        assert refused.value.key == "intervals.error.counts"
    all_right, none_right = intervals.METHODS[method](7, 7, 0.95), intervals.METHODS[method](0, 7, 0.95)
    assert all_right.high == 1.0 and all_right.low < 1 and none_right.low == 0.0 and none_right.high > 0


def scanned(target: float, method: str) -> int:
    """The fewest n whose interval for n of n starts at or above target, by counting up."""
    n = 1
    while intervals.METHODS[method](n, n, 0.95).low < target:
        n += 1
    return n


@pytest.mark.parametrize("method", list(intervals.METHODS))
def test_photos_needed_is_the_smallest_count_a_scan_finds(method):
    for target in (0.3, 0.5, 0.8, 0.9, 0.95, 0.962, 0.975, 0.99, 0.995):
        assert intervals.photos_needed(target, method) == scanned(target, method), target


def test_photos_needed_for_the_issue_targets():
    """Clopper–Pearson: n >= ln(0.025) / ln(target). 17 defect photos cannot show 0.99 (it takes 368)."""
    for target in (0.9, 0.99, 0.999):
        assert intervals.photos_needed(target) == math.ceil(math.log(0.025) / math.log(target))
    assert intervals.photos_needed(0.99) == 368 and intervals.photos_needed(0.999) == 3688
    assert intervals.clopper_pearson(17, 17).low < 0.99 <= intervals.clopper_pearson(368, 368).low
    assert intervals.clopper_pearson(367, 367).low < 0.99
    assert intervals.photos_needed(1.0) is None  # no number of photos shows a recall of exactly 1
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValidationError) as refused:
            intervals.photos_needed(bad)
        assert refused.value.key == "intervals.error.target"


def crafted(ws):
    """30 train, 9 validation (all right) and 6 test demo photos; on test one broken bolt is called normal and
    one normal bolt called missing."""
    add_demo(ws, 30, split="train")
    add_demo(ws, 9, split="val", start=30)
    add_demo(ws, 6, split="test", start=39)
    labels = [im.label for im in sorted(store.all_images(ws.conn), key=lambda im: im.id) if im.split == "test"]
    predicted = list(labels)
    predicted[labels.index("broken")] = "normal"
    predicted[labels.index("normal")] = "missing"
    return crafted_run(ws, predicted), labels


def test_point_rates_count_the_stored_decisions(ws):
    run, labels = crafted(ws)
    point = evaluation.operating_point(ws.conn, run, target_recall=0.99)
    rates = intervals.point_rates(ws.conn, run, point)
    val, test = rates.splits
    assert (val.split, test.split) == ("val", "test")
    assert (val.defect_recall.k, val.defect_recall.n) == (6, 6)
    assert (val.false_alarm_rate.k, val.false_alarm_rate.n) == (0, 3)
    defects, normals = sum(label != "normal" for label in labels), labels.count("normal")
    assert (test.defect_recall.k, test.defect_recall.n) == (defects - 1, defects)
    assert (test.false_alarm_rate.k, test.false_alarm_rate.n) == (1, normals)
    effect = evaluation.operating_effect(ws.conn, run, point, "test")
    assert test.defect_recall.value == pytest.approx(effect.defect_recall)
    assert test.false_alarm_rate.value == pytest.approx(effect.false_alarm_rate)
    assert test.defect_recall.to_json() == intervals.clopper_pearson(defects - 1, defects).to_json()
    assert val.best_low == pytest.approx(0.025 ** (1 / 6))
    # 0.99 needs 368 defect photos in a split: both splits fall short; a cost-matrix point has no target
    assert rates.target == 0.99 and rates.needed == 368 and rates.short == rates.splits
    half = intervals.point_rates(ws.conn, run, metrics.OperatingPoint(point.threshold, 0.5, None, 1.0, 0.0))
    assert defects == 4 and half.needed == 6  # 0.025 ** (1 / 6) = 0.54: 6 validation defect photos do, 4 do not
    assert [s.split for s in half.short] == ["test"]
    by_costs = intervals.point_rates(ws.conn, run, metrics.OperatingPoint(point.threshold, None, [[0.0]], 1.0, 0.0))
    assert by_costs.needed is None and by_costs.short == ()
    recall, false_alarm = intervals.card_rates(rates)
    assert recall["test"]["k"] == defects - 1 and recall["validation"]["n"] == 6
    assert recall["defect_photos_needed"] == 368 and recall["supported"] is False
    assert false_alarm["test"]["k"] == 1 and false_alarm["validation"]["value"] == 0.0
