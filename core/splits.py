"""Stable, stratified train/val/test assignment that moves the fewest images it can."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from core.errors import ValidationError

ORDER = ("test", "val", "train")  # which split a new image fills first when several need one


@dataclass(frozen=True)
class SplitItem:
    id: int
    sha256: str
    label: str | None
    split: str | None  # None: not assigned yet
    locked: bool  # given explicitly (import --split): never moved


def check_ratios(ratios: tuple[float, float, float]) -> None:
    """Ratios are (train, val, test), each in [0, 1], summing to 1, with some training data."""
    if len(ratios) != 3 or any(not 0 <= r <= 1 for r in ratios):
        raise ValidationError(f"split ratios {ratios} must be three numbers between 0 and 1",
                              key="dataset.error_ratio_range", ratios=_shown(ratios))
    if abs(sum(ratios) - 1) > 1e-3:
        raise ValidationError(f"split ratios {ratios} must add up to 1 (they add up to {sum(ratios):.3f})",
                              key="dataset.error_ratio_sum", ratios=_shown(ratios), total=f"{sum(ratios):.3f}")
    if ratios[0] <= 0:
        raise ValidationError("the train ratio must be above 0", key="dataset.error_ratio_train")


def _shown(ratios: tuple[float, ...]) -> str:
    return " / ".join(f"{r:.2f}" for r in ratios)


def hash_unit(sha256: str) -> float:
    """A number in [0, 1) fixed by the image's content: the image's place in every ordering."""
    return int(sha256[:13], 16) / float(16**13)


def targets(n: int, ratios: tuple[float, float, float]) -> dict[str, int]:
    """Split sizes for a class of n images: largest remainder, and 1+ val and test from n >= 3."""
    quotas = {"train": n * ratios[0], "val": n * ratios[1], "test": n * ratios[2]}
    sizes = {name: int(q) for name, q in quotas.items()}
    rest = n - sum(sizes.values())
    for name in sorted(quotas, key=lambda k: (-(quotas[k] - sizes[k]), ORDER.index(k)))[:rest]:
        sizes[name] += 1
    for name, ratio in (("val", ratios[1]), ("test", ratios[2])):
        if n >= 3 and ratio > 0 and sizes[name] == 0 and sizes["train"] > 1:
            sizes[name], sizes["train"] = 1, sizes["train"] - 1
    return sizes


def plan(items: list[SplitItem], ratios: tuple[float, float, float], test_locked: bool) -> dict[int, str]:
    """New split for each image that must move or has none; per label, in content-hash order.

    Locked images stay. With the test set locked, no image enters or leaves test.
    """
    check_ratios(ratios)
    groups: dict[str | None, list[SplitItem]] = defaultdict(list)
    for item in items:
        groups[item.label].append(item)
    moves: dict[int, str] = {}
    for group in groups.values():
        moves.update(_plan_group(group, ratios, test_locked))
    return moves


def _plan_group(group: list[SplitItem], ratios: tuple[float, float, float], test_locked: bool) -> dict[int, str]:
    fixed = [i for i in group if i.locked or (test_locked and i.split == "test")]
    movable = sorted((i for i in group if i not in fixed), key=lambda i: hash_unit(i.sha256))
    if test_locked:
        n_test = sum(1 for i in fixed if i.split == "test")
        rest = len(group) - n_test
        share = ratios[0] + ratios[1]
        sizes = targets(rest, (ratios[0] / share, ratios[1] / share, 0.0))
        sizes["test"] = n_test
    else:
        sizes = targets(len(group), ratios)
    room = {name: max(0, sizes[name] - sum(1 for i in fixed if i.split == name)) for name in ORDER}
    result: dict[int, str] = {}
    pool: list[SplitItem] = []
    for item in movable:
        if item.split is not None and room[item.split] > 0:
            room[item.split] -= 1
            result[item.id] = item.split
        else:
            pool.append(item)
    for item in pool:  # already in hash order
        free = [name for name in ORDER if room[name] > 0 and not (test_locked and name == "test")]
        target = free[0] if free else (item.split or "train")
        if free:
            room[target] -= 1
        result[item.id] = target
    return {i.id: result[i.id] for i in movable if result[i.id] != i.split}
