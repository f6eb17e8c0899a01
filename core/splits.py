"""Stable, stratified train/val/test assignment that moves the fewest images it can."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

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
        raise ValidationError(
            f"split ratios {ratios} must be three numbers between 0 and 1",
            key="dataset.error_ratio_range",
            ratios=_shown(ratios),
        )
    if abs(sum(ratios) - 1) > 1e-3:
        raise ValidationError(
            f"split ratios {ratios} must add up to 1 (they add up to {sum(ratios):.3f})",
            key="dataset.error_ratio_sum",
            ratios=_shown(ratios),
            total=f"{sum(ratios):.3f}",
        )
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


def _sizes(n: int, n_test_fixed: int, ratios: tuple[float, float, float], test_locked: bool) -> dict[str, int]:
    """Split sizes for a group of n; with the test set locked, test keeps its n_test_fixed and the rest is shared."""
    if not test_locked:
        return targets(n, ratios)
    share = ratios[0] + ratios[1]
    sizes = targets(n - n_test_fixed, (ratios[0] / share, ratios[1] / share, 0.0))
    sizes["test"] = n_test_fixed
    return sizes


def _plan_group(group: list[SplitItem], ratios: tuple[float, float, float], test_locked: bool) -> dict[int, str]:
    fixed = [i for i in group if i.locked or (test_locked and i.split == "test")]
    movable = sorted((i for i in group if i not in fixed), key=lambda i: hash_unit(i.sha256))
    sizes = _sizes(len(group), sum(1 for i in fixed if i.split == "test"), ratios, test_locked)
    room = {name: max(0, sizes[name] - sum(1 for i in fixed if i.split == name)) for name in ORDER}
    result: dict[int, str] = {}
    pool: list[SplitItem] = []
    for item in movable:
        if item.split is not None and room[item.split] > 0:
            room[item.split] -= 1
            result[item.id] = item.split
        else:
            pool.append(item)
    _fill(pool, room, test_locked, result)
    return {i.id: result[i.id] for i in movable if result[i.id] != i.split}


def _fill(pool: list[SplitItem], room: dict[str, int], test_locked: bool, result: dict[int, str]) -> None:
    """Place the pool (in hash order) in the first split with room, test first; with none left, where it was."""
    for item in pool:
        free = [name for name in ORDER if room[name] > 0 and not (test_locked and name == "test")]
        target = free[0] if free else (item.split or "train")
        if free:
            room[target] -= 1
        result[item.id] = target


# ---- one import's chunks: planned from counts ----------------------------------------------------


@dataclass
class Tally:
    """One label group counted by split: locked photos, and unlocked ones (None: not assigned yet)."""

    locked: Counter[str] = field(default_factory=Counter)
    unlocked: Counter[str | None] = field(default_factory=Counter)

    @classmethod
    def of(cls, items: Iterable[SplitItem], moves: dict[int, str]) -> Tally:
        tally = cls()
        for item in items:
            (tally.locked if item.locked else tally.unlocked)[moves.get(item.id, item.split)] += 1
        return tally


def place_new(
    tally: Tally, new: Sequence[SplitItem], ratios: tuple[float, float, float], test_locked: bool
) -> dict[int, str] | None:
    """Splits for a group's new photos from its tally (new photos not in it), equal to plan() over the whole
    group when none of its stored photos has to move; then the tally takes the new photos in. None when one
    might have to (a split over its size, a stored photo without one): plan the group from its rows then."""
    locked = tally.locked + Counter(i.split for i in new if i.locked)
    unlocked = tally.unlocked
    pool = sorted((i for i in new if not i.locked), key=lambda i: hash_unit(i.sha256))
    if unlocked[None] or any(i.split is not None for i in pool):
        return None
    fixed = {name: locked[name] + (unlocked[name] if test_locked and name == "test" else 0) for name in ORDER}
    n = sum(locked.values()) + sum(unlocked.values()) + len(pool)
    sizes = _sizes(n, fixed["test"], ratios, test_locked)
    room = {name: max(0, sizes[name] - fixed[name]) for name in ORDER}
    for name in ORDER:
        kept = 0 if test_locked and name == "test" else unlocked[name]  # unlocked photos that keep their split
        if kept > room[name]:
            return None
        room[name] -= kept
    result: dict[int, str] = {}
    _fill(pool, room, test_locked, result)
    tally.locked, tally.unlocked = locked, unlocked + Counter(result.values())
    return result


Rows = Callable[[str | None], list[SplitItem]]  # one label group's photos, read from the database


@dataclass
class Book:
    """What one import keeps between its chunks (calls of store.insert_images): each label group's tally.

    A chunk is planned from the tallies of its labels, so its cost does not grow with the workspace: the same
    splits as plan() over each whole group, without reading the group. A group's rows are read when its tally
    is missing or stale, or when a stored photo of it has to move. The tallies hold while no other connection
    has written to the database (SQLite's data_version, read inside the write transaction) and the split settings
    are the same; after a failed chunk, forget() them.
    """

    version: int | None = None
    settings: tuple[tuple[float, float, float], bool] | None = None
    tallies: dict[str | None, Tally] = field(default_factory=dict)
    rows_read: int = 0  # photos read from the database, all chunks together

    def forget(self) -> None:
        """Drop every tally (after a failed chunk): the next chunk reads its groups again."""
        self.version, self.tallies = None, {}

    def plan(
        self,
        version: int,
        labels: Iterable[str | None],
        new: Sequence[SplitItem],
        settings: tuple[tuple[float, float, float], bool],
        rows: Rows,
    ) -> dict[int, str]:
        """Inside the chunk's transaction (new: its inserted photos): the split moves of the given groups."""
        if (version, settings) != (self.version, self.settings):
            check_ratios(settings[0])
            self.version, self.settings, self.tallies = version, settings, {}
        ratios, test_locked = settings
        moves: dict[int, str] = {}
        for label in labels:
            tally = self.tallies.pop(label, None)
            placed = (
                None if tally is None else place_new(tally, [i for i in new if i.label == label], ratios, test_locked)
            )
            if placed is None:
                items = rows(label)
                self.rows_read += len(items)
                placed = plan(items, ratios, test_locked)
                tally = Tally.of(items, placed)
            self.tallies[label] = tally
            moves.update(placed)
        return moves
