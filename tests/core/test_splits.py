"""core.splits: stratified, deterministic, stable train/val/test planning."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import replace
from fractions import Fraction

import pytest

from core import splits
from core.errors import ValidationError
from core.splits import SplitItem

RATIOS = (0.7, 0.15, 0.15)
NAMES = ("train", "val", "test")


def sha(seed: object) -> str:
    return hashlib.sha256(str(seed).encode()).hexdigest()


def make_items(counts: dict[str | None, int], start: int = 0) -> list[SplitItem]:
    items, next_id = [], start
    for label, n in counts.items():
        for _ in range(n):
            items.append(SplitItem(next_id, sha(next_id), label, None, False))
            next_id += 1
    return items


def apply(items: list[SplitItem], moves: dict[int, str]) -> list[SplitItem]:
    return [replace(i, split=moves.get(i.id, i.split)) for i in items]


def settle(items, ratios=RATIOS, test_locked=False) -> list[SplitItem]:
    return apply(items, splits.plan(items, ratios, test_locked))


def sizes_by_label(items) -> dict[str | None, dict[str, int]]:
    result: dict[str | None, dict[str, int]] = {}
    for item in items:
        result.setdefault(item.label, dict.fromkeys(NAMES, 0))[item.split] += 1
    return result


def largest_remainder(n: int, ratios) -> dict[str, int]:
    """Reference: Hamilton's method with exact fractions; ties go to test, then val, then train.
    Then, from 3 photos up, val and test get at least one each (taken from train)."""
    quotas = {name: Fraction(str(r)) * n for name, r in zip(NAMES, ratios, strict=True)}
    sizes = {name: int(q) for name, q in quotas.items()}
    tie = {"test": 0, "val": 1, "train": 2}
    order = sorted(NAMES, key=lambda k: (-(quotas[k] - sizes[k]), tie[k]))
    for name in order[: n - sum(sizes.values())]:
        sizes[name] += 1
    for name, ratio in (("val", ratios[1]), ("test", ratios[2])):
        if n >= 3 and ratio > 0 and sizes[name] == 0 and sizes["train"] > 1:
            sizes[name] += 1
            sizes["train"] -= 1
    return sizes


# ---- targets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, (0, 0, 0)),
        (1, (1, 0, 0)),
        (2, (2, 0, 0)),
        (3, (1, 1, 1)),
        (4, (2, 1, 1)),
        (10, (7, 1, 2)),
        (20, (14, 3, 3)),
        (261, (183, 39, 39)),
        (139, (97, 21, 21)),
    ],
)
def test_targets_by_hand(n, expected):
    assert tuple(splits.targets(n, RATIOS)[name] for name in NAMES) == expected


@pytest.mark.parametrize(
    "ratios", [RATIOS, (0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (0.5, 0.3, 0.2), (1.0, 0.0, 0.0), (0.9, 0.1, 0.0)]
)
def test_targets_are_largest_remainder(ratios):
    for n in range(0, 400):
        sizes = splits.targets(n, ratios)
        assert sum(sizes.values()) == n
        assert sizes == largest_remainder(n, ratios), n
        if ratios[2] == 0:
            assert sizes["test"] == 0


# ---- the planner ---------------------------------------------------------------------------------


def test_plan_is_stratified_per_label():
    counts = {"normal": 261, "broken": 37, "missing": 139, None: 11}
    items = settle(make_items(counts))
    assert all(i.split in NAMES for i in items)
    for label, sizes in sizes_by_label(items).items():
        assert sizes == largest_remainder(counts[label], RATIOS), label


def test_plan_is_deterministic_and_independent_of_order():
    items = make_items({"normal": 50, "broken": 20, "missing": 30})
    first = splits.plan(items, RATIOS, False)
    shuffled = items[:]
    random.Random(4).shuffle(shuffled)
    assert splits.plan(items, RATIOS, False) == first
    assert splits.plan(shuffled, RATIOS, False) == first
    # the assignment follows the content hash, not the id: reversed ids change nothing
    renumbered = [replace(i, id=10_000 - i.id) for i in items]
    assert {10_000 - k: v for k, v in splits.plan(renumbered, RATIOS, False).items()} == first


def test_balanced_assignment_needs_no_moves():
    items = settle(make_items({"normal": 40, "missing": 17}))
    assert splits.plan(items, RATIOS, False) == {}


def test_adding_images_moves_few_existing_ones():
    items = settle(make_items({"normal": 30, "broken": 12, "missing": 20}))
    next_id = len(items)
    total_moved = 0
    rng = random.Random(7)
    for _round in range(60):
        label = rng.choice(["normal", "broken", "missing"])
        items.append(SplitItem(next_id, sha(next_id), label, None, False))
        next_id += 1
        moves = splits.plan(items, RATIOS, False)
        moved_existing = [i for i in items if i.split is not None and i.id in moves]
        assert len(moved_existing) <= 1, moved_existing  # one class changed by one photo
        total_moved += len(moved_existing)
        items = apply(items, moves)
        for lab, sizes in sizes_by_label(items).items():  # still exactly stratified
            assert sizes == largest_remainder(sum(sizes.values()), RATIOS), lab
    assert total_moved <= 15  # most new photos simply fill the split that is short


def test_adding_a_batch_moves_at_most_a_few():
    items = settle(make_items({"normal": 100, "missing": 100}))
    grown = items + make_items({"normal": 25, "missing": 7}, start=1000)
    moves = splits.plan(grown, RATIOS, False)
    moved_existing = [i for i in items if i.id in moves]
    assert len(moved_existing) <= 2 * 2  # per class at most the rounding shift of two splits
    assert all(i.id in moves for i in grown if i.split is None)


def test_changing_ratios_moves_the_fewest():
    items = settle(make_items({"normal": 20}))
    assert Counter(i.split for i in items) == {"train": 14, "val": 3, "test": 3}
    moves = splits.plan(items, (0.5, 0.25, 0.25), False)
    assert len(moves) == 4 and set(moves.values()) == {"val", "test"}
    assert all(i.split == "train" for i in items if i.id in moves)


def test_relabelled_image_keeps_its_split_when_there_is_room():
    items = settle(make_items({"normal": 30, "broken": 30}))
    # move one 'normal' photo to 'broken' and one 'broken' to 'normal', both from val
    a = next(i for i in items if i.label == "normal" and i.split == "val")
    b = next(i for i in items if i.label == "broken" and i.split == "val")
    swapped = [
        replace(i, label="broken") if i.id == a.id else replace(i, label="normal") if i.id == b.id else i for i in items
    ]
    assert splits.plan(swapped, RATIOS, False) == {}


def test_locked_images_never_move():
    items = make_items({"normal": 40, "broken": 10})
    # lock many more photos into test than the ratio wants, and some into train and val
    locked = {i.id: s for i, s in zip(items[::2], ["test", "test", "test", "val", "train"] * 10, strict=False)}
    items = [replace(i, split=locked[i.id], locked=True) if i.id in locked else i for i in items]
    for ratios in (RATIOS, (0.5, 0.25, 0.25), (1.0, 0.0, 0.0)):
        for test_locked in (False, True):
            moves = splits.plan(items, ratios, test_locked)
            assert not set(moves) & set(locked), (ratios, test_locked)
            items = apply(items, moves)
    assert {i.id: i.split for i in items if i.locked} == locked


def test_locked_images_count_towards_the_targets():
    items = make_items({"normal": 20})
    items = [replace(i, split="test", locked=True) if i.id < 3 else i for i in items]
    items = settle(items)
    assert Counter(i.split for i in items) == {"train": 14, "val": 3, "test": 3}
    assert [i.split for i in items if i.split == "test" and not i.locked] == []


def test_with_test_locked_no_image_enters_or_leaves_test():
    items = settle(make_items({"normal": 60, "broken": 25, "missing": 9}))
    in_test = {i.id for i in items if i.split == "test"}
    grown = items + make_items({"normal": 30, "broken": 10, "missing": 20}, start=500)
    for ratios in (RATIOS, (0.4, 0.2, 0.4), (0.9, 0.1, 0.0)):
        moves = splits.plan(grown, ratios, True)
        assert "test" not in moves.values()
        assert not set(moves) & in_test
        grown = apply(grown, moves)
        assert {i.id for i in grown if i.split == "test"} == in_test
        # the others still share train : val by the ratio, per label
        for label in ("normal", "broken", "missing"):
            rest = [i for i in grown if i.label == label and i.split != "test"]
            share = ratios[0] + ratios[1]
            want = largest_remainder(len(rest), (ratios[0] / share, ratios[1] / share, 0.0))
            got = Counter(i.split for i in rest)
            assert (got["train"], got["val"]) == (want["train"], want["val"]), (ratios, label)


def test_unlock_test_rebalances_again():
    items = settle(make_items({"normal": 20}))
    grown = settle(items + make_items({"normal": 20}, start=100), test_locked=True)
    assert Counter(i.split for i in grown)["test"] == 3
    unlocked = settle(grown)
    assert Counter(i.split for i in unlocked) == {"train": 28, "val": 6, "test": 6}


@pytest.mark.parametrize(
    "ratios",
    [
        (0.5, 0.5, 0.5),
        (0.7, 0.2, 0.05),
        (1.2, -0.1, -0.1),
        (0.0, 0.5, 0.5),
        (0.7, 0.3),
        (0.7, 0.15, 0.15, 0.0),
    ],
)
def test_bad_ratios_are_refused(ratios):
    with pytest.raises(ValidationError, match="ratio"):
        splits.check_ratios(ratios)
    with pytest.raises(ValidationError):
        splits.plan(make_items({"normal": 3}), ratios, False)


def test_ratio_message_names_the_sum():
    with pytest.raises(ValidationError, match="add up to 1 .*1.500"):
        splits.check_ratios((0.5, 0.5, 0.5))


def test_hash_unit_is_in_range_and_content_based():
    values = [splits.hash_unit(sha(i)) for i in range(200)]
    assert all(0 <= v < 1 for v in values)
    assert splits.hash_unit("f" * 64) < 1 and splits.hash_unit("0" * 64) == 0
    assert len(set(values)) == 200


# ---- one import's chunks, planned from counts (splits.Book) ----------------------------------------


class Stored:
    """Photos as the database holds them, with SQLite's data_version: what store hands a Book."""

    def __init__(self, items: list[SplitItem]):
        self.items, self.version = items, 1

    def rows(self, label: str | None) -> list[SplitItem]:
        return [i for i in self.items if i.label == label]

    def chunk(self, book: splits.Book, new: list[SplitItem], ratios, test_locked: bool) -> dict[int, str]:
        """Store one chunk the way store.insert_images does, with and without the book; both must agree."""
        self.items = self.items + new
        labels = {i.label for i in new}
        whole = splits.plan([i for i in self.items if i.label in labels], ratios, test_locked)  # the reference
        moves = book.plan(self.version, labels, new, (ratios, test_locked), self.rows)
        assert moves == whole
        self.items = apply(self.items, moves)
        return moves


def new_photos(rng: random.Random, start: int, n: int, labels, locked_share: float = 0.0) -> list[SplitItem]:
    """n new photos; a share of them given a split by hand (locked), as `import --split` does."""
    out = []
    for k in range(start, start + n):
        split = rng.choice(NAMES) if rng.random() < locked_share else None
        out.append(SplitItem(k, sha(("new", k)), rng.choice(labels), split, split is not None))
    return out


@pytest.mark.parametrize("test_locked", [False, True])
@pytest.mark.parametrize("seed", range(12))
def test_book_gives_the_splits_plan_gives_over_whole_groups(seed, test_locked):
    """Chunk after chunk, into settled, disturbed and hand-locked groups: the book's splits are exactly those of
    planning every affected group whole (what every chunk did before), whatever it has counted or read."""
    rng = random.Random(seed)
    ratios = rng.choice([RATIOS, (0.5, 0.25, 0.25), (0.8, 0.1, 0.1), (0.6, 0.4, 0.0), (1.0, 0.0, 0.0)])
    labels = ("normal", "broken", None)
    ws = Stored(
        settle(make_items({"normal": rng.randint(0, 60), "broken": rng.randint(0, 9), None: 3}), ratios, test_locked)
    )
    for item in rng.sample(ws.items, k=min(4, len(ws.items))):  # relabelled since: their groups are off balance
        ws.items = [replace(i, label=rng.choice(labels)) if i.id == item.id else i for i in ws.items]
    book, next_id = splits.Book(), 1000
    for _chunk in range(10):
        n = rng.choice([1, 5, 16])
        ws.chunk(
            book,
            new_photos(rng, next_id, n, labels, locked_share=rng.choice([0.0, 0.0, 0.5, 1.0])),
            ratios,
            test_locked,
        )
        next_id += n
        if rng.random() < 0.2:  # another connection changed the workspace between two chunks
            ws.items = [replace(i, split=None) if i.id % 7 == 0 and not i.locked else i for i in ws.items]
            ws.version += 1


def test_book_reads_each_group_once_per_import():
    """Into a settled workspace, only the first chunk reads its groups' photos; the next ones plan from counts."""
    rng = random.Random(3)
    ws = Stored(settle(make_items({"normal": 500, "broken": 300, "missing": 200})))
    book = splits.Book()
    ws.chunk(book, new_photos(rng, 5000, 16, ("normal", "broken")), RATIOS, False)
    first = book.rows_read
    assert first >= 800  # normal and broken read whole, missing untouched
    for k in range(1, 20):
        ws.chunk(book, new_photos(rng, 5000 + 16 * k, 16, ("normal", "broken")), RATIOS, False)
    assert book.rows_read == first
    for label, sizes in sizes_by_label(ws.items).items():  # and every group is still exactly stratified
        assert sizes == largest_remainder(sum(sizes.values()), RATIOS), label


def test_book_reads_again_when_another_connection_wrote_or_the_settings_changed():
    rng = random.Random(5)
    ws = Stored(settle(make_items({"normal": 100})))
    book = splits.Book()
    ws.chunk(book, new_photos(rng, 500, 4, ("normal",)), RATIOS, False)
    assert book.rows_read == 104
    ws.version += 1  # e.g. a relabel from another session, committed between two chunks
    ws.chunk(book, new_photos(rng, 600, 4, ("normal",)), RATIOS, False)
    assert book.rows_read == 104 + 108
    ws.chunk(book, new_photos(rng, 700, 4, ("normal",)), (0.5, 0.25, 0.25), False)  # new ratios: read again
    assert book.rows_read == 104 + 108 + 112
    book.forget()  # a chunk failed and rolled back
    ws.chunk(book, new_photos(rng, 800, 4, ("normal",)), (0.5, 0.25, 0.25), False)
    assert book.rows_read == 104 + 108 + 112 + 116


def test_book_reads_a_group_whose_stored_photos_must_move():
    """Hand-locked test photos beyond the test share push stored photos out of test: the counts cannot say
    which, so the group is read and planned whole."""
    rng = random.Random(9)
    ws = Stored(settle(make_items({"normal": 40})))
    book = splits.Book()
    ws.chunk(book, new_photos(rng, 500, 2, ("normal",)), RATIOS, False)
    read = book.rows_read
    locked = [SplitItem(600 + k, sha(("locked", k)), "normal", "test", True) for k in range(12)]
    moves = ws.chunk(book, locked, RATIOS, False)
    assert book.rows_read == read + 54
    assert any(i < 500 for i in moves) and set(moves.values()) <= {"train", "val"}
    assert Counter(i.split for i in ws.items) == {"train": 34, "val": 8, "test": 12}
