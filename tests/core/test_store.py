"""core.store: schema and migrations, labelling with append-only history, roles, trash, and
concurrent writers from separate processes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from core import auth, db, label_set, store
from core.errors import NotFoundError, PermissionDenied, ValidationError
from core.workspace import open_workspace
from tests.conftest import ROOT


def sha(seed: object) -> str:
    return hashlib.sha256(str(seed).encode()).hexdigest()


def new_image(
    seed: object, label: str | None = None, split: str | None = None, digest: str | None = None
) -> store.NewImage:
    return store.NewImage(
        sha256=digest or sha(seed),
        ext=".jpg",
        display_name=f"{seed}.jpg",
        origin=f"test:{seed}",
        source="import",
        width=128,
        height=96,
        bytes=1000,
        phash="0" * 16,
        brightness=120.0,
        sharpness=300.0,
        label=label,
        split=split,
    )


def add_images(ws, actor, items: list[store.NewImage]) -> list[int]:
    stored = store.insert_images(ws.conn, actor, items, "import", ws.settings.split_ratios)
    return [stored[item.sha256][0] for item in items]


def event_count(ws) -> int:
    return ws.conn.execute("SELECT COUNT(*) FROM label_events").fetchone()[0]


def parse_time(at: str) -> datetime:
    assert at.endswith("Z")
    return datetime.fromisoformat(at[:-1] + "+00:00")


# ---- schema ------------------------------------------------------------------------------------


def test_schema_is_created_and_migrations_are_idempotent(ws_path, admin):
    first = open_workspace(ws_path)
    assert db.schema_version(first.conn) == len(db._MIGRATIONS) >= 1
    add_images(first, admin, [new_image(1, "normal")])
    db.migrate(first.conn)  # again on a migrated connection: nothing happens
    first.close()
    second = open_workspace(ws_path)
    try:
        assert db.schema_version(second.conn) == len(db._MIGRATIONS)
        assert [lab.name for lab in label_set.list_labels(second.conn)] == ["normal", "broken", "missing"]
        assert store.stats(second.conn)["total"] == 1
        assert event_count(second) == 1
        assert second.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert second.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        second.close()


def test_default_labels_have_korean_names(ws):
    labels = label_set.list_labels(ws.conn)
    assert [(lab.display("en"), lab.display("ko")) for lab in labels] == [
        ("normal", "정상"),
        ("broken", "파손"),
        ("missing", "유실"),
    ]


def test_add_label_is_admin_only_and_refuses_duplicates(ws, admin, labeler):
    with pytest.raises(PermissionDenied):
        label_set.add_label(ws.conn, labeler, "rusty", "rusty", "녹")
    label = label_set.add_label(ws.conn, admin, " Rusty ", "rusty", "녹")
    assert (label.name, label.position, label.display_ko) == ("rusty", 3, "녹")
    with pytest.raises(ValidationError, match="exists already"):
        label_set.add_label(ws.conn, admin, "rusty", "", "")
    with pytest.raises(ValidationError, match="letters, digits"):
        label_set.add_label(ws.conn, admin, "bad name!", "", "")
    [image_id] = add_images(ws, admin, [new_image(1)])
    assert store.relabel(ws.conn, admin, [image_id], "rusty") == 1
    assert store.stats(ws.conn)["by_label"]["rusty"] == 1


# ---- relabel and history -----------------------------------------------------------------------


def test_relabel_records_user_time_and_source(ws, admin, labeler):
    ids = add_images(ws, admin, [new_image(i, "normal") for i in range(3)])
    before = datetime.now(UTC)
    assert store.relabel(ws.conn, labeler, ids[:2], "broken", source="review") == 2
    after = datetime.now(UTC)
    for image_id in ids[:2]:
        first, second = store.history(ws.conn, image_id)
        assert (first.old_label, first.new_label, first.user, first.source) == (None, "normal", "alice", "import")
        assert (second.old_label, second.new_label, second.user, second.source) == ("normal", "broken", "lee", "review")
        assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= parse_time(second.at) <= after
        assert store.get_image(ws.conn, image_id).label == "broken"
    assert store.get_image(ws.conn, ids[2]).label == "normal"
    assert len(store.history(ws.conn, ids[2])) == 1


def test_noop_relabel_records_nothing(ws, admin, labeler):
    ids = add_images(ws, admin, [new_image(i, "normal") for i in range(2)])
    events = event_count(ws)
    assert store.relabel(ws.conn, labeler, ids, "normal") == 0
    assert event_count(ws) == events
    # a confirmation is recorded only when asked for, and still counts as no change
    assert store.relabel(ws.conn, labeler, ids[:1], "normal", source="review", record_unchanged=True) == 0
    confirmation = store.history(ws.conn, ids[0])[-1]
    assert (confirmation.old_label, confirmation.new_label, confirmation.source) == ("normal", "normal", "review")
    assert event_count(ws) == events + 1


def test_relabel_to_none_and_duplicate_ids(ws, admin, labeler):
    ids = add_images(ws, admin, [new_image(1, "missing")])
    assert store.relabel(ws.conn, labeler, ids * 3, None) == 1  # one event, not three
    assert store.get_image(ws.conn, ids[0]).label is None
    assert [e.new_label for e in store.history(ws.conn, ids[0])] == ["missing", None]
    assert store.stats(ws.conn)["unlabeled"] == 1


def test_unknown_label_names_the_valid_ones(ws, admin, labeler):
    ids = add_images(ws, admin, [new_image(1, "normal")])
    with pytest.raises(ValidationError) as err:
        store.relabel(ws.conn, labeler, ids, "rusty")
    assert "'rusty'" in str(err.value)
    assert "normal, broken, missing" in str(err.value)
    assert store.get_image(ws.conn, ids[0]).label == "normal"


def test_unknown_event_source_is_refused(ws, admin):
    ids = add_images(ws, admin, [new_image(1)])
    with pytest.raises(ValidationError, match="'robot'"):
        store.relabel(ws.conn, admin, ids, "normal", source="robot")


def test_relabel_is_all_or_nothing(ws, admin, labeler):
    ids = add_images(ws, admin, [new_image(i, "normal") for i in range(2)])
    events = event_count(ws)
    with pytest.raises(NotFoundError, match="999999"):
        store.relabel(ws.conn, labeler, [*ids, 999999], "broken")
    assert {store.get_image(ws.conn, i).label for i in ids} == {"normal"}
    assert event_count(ws) == events
    assert not ws.conn.in_transaction


def test_viewer_cannot_relabel(ws, admin, viewer):
    ids = add_images(ws, admin, [new_image(1, "normal")])
    with pytest.raises(PermissionDenied, match="'vic'.*'viewer'.*'relabel'"):
        store.relabel(ws.conn, viewer, ids, "broken")
    assert store.get_image(ws.conn, ids[0]).label == "normal"
    assert len(store.history(ws.conn, ids[0])) == 1


def test_viewer_cannot_insert(ws, viewer):
    with pytest.raises(PermissionDenied):
        store.insert_images(ws.conn, viewer, [new_image(1)], "import", (0.7, 0.15, 0.15))
    assert store.stats(ws.conn)["total"] == 0


def test_history_is_in_order(ws, admin, labeler):
    [image_id] = add_images(ws, admin, [new_image(1, "normal")])
    sequence = ["broken", "missing", None, "normal", "broken"]
    for label in sequence:
        store.relabel(ws.conn, labeler, [image_id], label)
    events = store.history(ws.conn, image_id)
    assert [e.new_label for e in events] == ["normal", *sequence]
    assert [e.old_label for e in events] == [None, "normal", *sequence[:-1]]
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)
    with pytest.raises(NotFoundError):
        store.history(ws.conn, 424242)


# ---- trash and stats ---------------------------------------------------------------------------


def test_labeler_cannot_trash(ws, admin, labeler):
    ids = add_images(ws, admin, [new_image(1, "normal")])
    with pytest.raises(PermissionDenied, match="'delete'"):
        store.set_trashed(ws.conn, labeler, ids, True)
    assert store.get_image(ws.conn, ids[0]).deleted_at is None
    store.set_trashed(ws.conn, admin, ids, True)
    with pytest.raises(PermissionDenied, match="'restore'"):
        store.set_trashed(ws.conn, labeler, ids, False)


def test_admin_trash_and_restore(ws, admin):
    ids = add_images(ws, admin, [new_image(i, "normal") for i in range(3)])
    assert store.set_trashed(ws.conn, admin, ids[:2], True) == 2
    assert store.set_trashed(ws.conn, admin, ids[:2], True) == 0  # already there
    trashed = store.get_image(ws.conn, ids[0])
    assert trashed.deleted_by == "alice" and parse_time(trashed.deleted_at)
    listed, total = store.query_images(ws.conn, store.ImageQuery(trashed=True))
    assert total == 2 and {im.id for im in listed} == set(ids[:2])
    with pytest.raises(NotFoundError, match="trash"):
        store.relabel(ws.conn, admin, ids[:1], "broken")
    assert store.set_trashed(ws.conn, admin, ids, False) == 2
    restored = store.get_image(ws.conn, ids[0])
    assert restored.deleted_at is None and restored.deleted_by is None and restored.label == "normal"


def test_stats_exclude_trash(ws, admin):
    ids = add_images(
        ws, admin, [new_image(0, "normal"), new_image(1, "normal"), new_image(2, "broken"), new_image(3), new_image(4)]
    )
    stats = store.stats(ws.conn)
    assert stats["total"] == 5 and stats["unlabeled"] == 2
    assert stats["by_label"] == {"normal": 2, "broken": 1, "missing": 0}
    assert sum(stats["by_split"].values()) == 5
    store.set_trashed(ws.conn, admin, [ids[0], ids[3]], True)
    stats = store.stats(ws.conn)
    assert set(stats) == {"total", "by_label", "by_split", "unlabeled"}
    assert stats["total"] == 3 and stats["unlabeled"] == 1
    assert stats["by_label"] == {"normal": 1, "broken": 1, "missing": 0}
    assert sum(stats["by_split"].values()) == 3
    assert len(store.all_images(ws.conn)) == 3
    assert len(store.all_images(ws.conn, include_trashed=True)) == 5


def old_stats(conn) -> dict[str, object]:
    """store.stats as it was (four queries) before it came from label_split_counts (baseline b412fd3)."""
    live = "FROM images WHERE deleted_at IS NULL"
    by_label = {lab.name: 0 for lab in label_set.list_labels(conn)}
    by_label.update(
        {r[0]: r[1] for r in conn.execute(f"SELECT label, COUNT(*) {live} AND label IS NOT NULL GROUP BY label")}
    )
    by_split = {name: 0 for name in store.SPLITS}
    by_split.update(
        {r[0]: r[1] for r in conn.execute(f"SELECT split, COUNT(*) {live} AND split IS NOT NULL GROUP BY split")}
    )
    return {
        "total": conn.execute(f"SELECT COUNT(*) {live}").fetchone()[0],
        "by_label": by_label,
        "by_split": by_split,
        "unlabeled": conn.execute(f"SELECT COUNT(*) {live} AND label IS NULL").fetchone()[0],
    }


def test_label_split_counts_equal_the_loop_over_every_image(ws, admin):
    """One GROUP BY gives what the Dataset page's split table counted in a loop over every live image, with
    trashed, unlabelled and automatically split photos in the workspace; stats keeps its contract."""
    labels, splits = [None, "normal", "broken", "missing"], [None, "train", "val", "test"]
    ids = add_images(ws, admin, [new_image(i, labels[i % 4], splits[(i // 4) % 4]) for i in range(48)])
    store.relabel(ws.conn, admin, ids[1:40:7], None)  # unlabelled after a label: their split stays
    store.set_trashed(ws.conn, admin, ids[::5], True)
    images = store.all_images(ws.conn)
    assert any(im.label is None for im in images) and len(images) < len(ids)
    cells = store.label_split_counts(ws.conn)
    loop = {}
    for im in images:
        loop[(im.label, im.split)] = loop.get((im.label, im.split), 0) + 1
    assert cells == loop
    page_table = [
        [sum(1 for im in images if im.label == name and im.split == split) for split in store.SPLITS]
        for name in ("normal", "broken", "missing")
    ]
    assert page_table == [
        [cells.get((name, split), 0) for split in store.SPLITS] for name in ("normal", "broken", "missing")
    ]
    assert store.stats(ws.conn) == old_stats(ws.conn)
    assert list(store.stats(ws.conn)["by_label"]) == ["normal", "broken", "missing"]
    store.set_trashed(ws.conn, admin, ids, True)
    assert store.label_split_counts(ws.conn) == {} and store.stats(ws.conn) == old_stats(ws.conn)


def test_query_filters(ws, admin):
    ids = add_images(ws, admin, [new_image(0, "normal"), new_image(1, "broken"), new_image(2)])

    def found(**kw):
        return sorted(im.id for im in store.query_images(ws.conn, store.ImageQuery(**kw))[0])

    assert found() == sorted(ids)
    assert found(labels=("normal",)) == [ids[0]]
    assert found(labels=("normal",), unlabeled=True) == [ids[0], ids[2]]
    assert found(unlabeled=True) == [ids[2]]
    assert found(ids=()) == []
    assert found(sources=("upload",)) == []
    page, total = store.query_images(ws.conn, store.ImageQuery(), offset=1, limit=1)
    assert total == 3 and len(page) == 1


# ---- resolving references ---------------------------------------------------------------------


def test_resolve_image_by_id_and_sha_prefix(ws, admin):
    ids = add_images(ws, admin, [new_image(1), new_image(2)])
    image = store.get_image(ws.conn, ids[1])
    assert store.resolve_image(ws.conn, str(ids[1])).id == ids[1]
    assert store.resolve_image(ws.conn, image.sha256[:6]).id == ids[1]
    assert store.resolve_image(ws.conn, image.sha256.upper()[:10]).id == ids[1]
    assert store.resolve_image(ws.conn, f"  {image.sha256}  ").id == ids[1]
    with pytest.raises(ValidationError, match="6\\+ hex"):
        store.resolve_image(ws.conn, image.sha256[:5])
    with pytest.raises(ValidationError):
        store.resolve_image(ws.conn, "zzzzzzzz")
    with pytest.raises(NotFoundError):
        store.resolve_image(ws.conn, "9999")
    missing = next(
        c for c in "0123456789abcdef" if not any(store.get_image(ws.conn, i).sha256.startswith(c * 6) for i in ids)
    )
    with pytest.raises(NotFoundError):
        store.resolve_image(ws.conn, missing * 6)


def test_ambiguous_sha_prefix_asks_for_more_digits(ws, admin):
    common = "abcdef12"
    ids = add_images(ws, admin, [new_image(1, digest=common + sha(1)[8:]), new_image(2, digest=common + sha(2)[8:])])
    with pytest.raises(ValidationError, match="several"):
        store.resolve_image(ws.conn, common)
    assert store.resolve_image(ws.conn, common + sha(2)[8:12]).id == ids[1]


def test_all_digit_sha_prefix_is_not_mistaken_for_an_id(ws, admin):
    """About 2% of 8-digit SHA prefixes are all decimal digits; they must still resolve."""
    digest = "20240611" + sha(1)[8:]
    [image_id] = add_images(ws, admin, [new_image(1, digest=digest)])
    assert store.resolve_image(ws.conn, "20240611").id == image_id
    assert store.resolve_image(ws.conn, "202406").id == image_id
    assert store.resolve_image(ws.conn, str(image_id)).id == image_id  # ids still win
    with pytest.raises(NotFoundError):
        store.resolve_image(ws.conn, "99999")  # too short for a prefix: a missing id
    with pytest.raises(NotFoundError):
        store.resolve_image(ws.conn, "77777777")  # neither an id nor a prefix


def test_insert_same_sha_twice_keeps_the_first(ws, admin, labeler):
    [first] = add_images(ws, admin, [new_image(1, "normal")])
    stored = store.insert_images(ws.conn, labeler, [new_image(1, "broken")], "upload", (0.7, 0.15, 0.15))
    assert stored == {sha(1): (first, False)}
    assert store.get_image(ws.conn, first).label == "normal"
    assert event_count(ws) == 1


# ---- split settings -----------------------------------------------------------------------------


def test_split_settings_need_trainer_and_valid_ratios(ws, admin, labeler):
    trainer = auth.Actor("tom", "trainer")
    add_images(ws, admin, [new_image(i, "normal") for i in range(20)])
    with pytest.raises(PermissionDenied):
        store.save_split_settings(ws.conn, labeler, (0.5, 0.25, 0.25), False)
    with pytest.raises(ValidationError, match="add up to 1"):
        store.save_split_settings(ws.conn, trainer, (0.5, 0.5, 0.5), False)
    assert store.split_settings(ws.conn, (0.7, 0.15, 0.15)) == ((0.7, 0.15, 0.15), False)
    assert store.stats(ws.conn)["by_split"] == {"train": 14, "val": 3, "test": 3}
    assert store.save_split_settings(ws.conn, trainer, (0.5, 0.25, 0.25), False) == 4  # the fewest
    assert store.split_settings(ws.conn, (0.7, 0.15, 0.15)) == ((0.5, 0.25, 0.25), False)
    assert store.stats(ws.conn)["by_split"] == {"train": 10, "val": 5, "test": 5}
    # with the test set locked, its 5 stay and the other 15 are shared 0.6 : 0.4
    store.save_split_settings(ws.conn, trainer, (0.6, 0.3, 0.1), True)
    assert store.split_settings(ws.conn, (0.7, 0.15, 0.15)) == ((0.6, 0.3, 0.1), True)
    assert store.stats(ws.conn)["by_split"] == {"train": 10, "val": 5, "test": 5}
    store.save_split_settings(ws.conn, trainer, (0.8, 0.1, 0.1), True)
    assert store.stats(ws.conn)["by_split"] == {"train": 13, "val": 2, "test": 5}


def test_test_lock_keeps_test_set_through_imports_and_ratio_changes(ws, admin):
    trainer = auth.Actor("tom", "trainer")
    add_images(ws, admin, [new_image(i, "normal" if i % 2 else "broken") for i in range(40)])
    store.save_split_settings(ws.conn, trainer, (0.7, 0.15, 0.15), True)
    test_before = {im.id for im in store.all_images(ws.conn) if im.split == "test"}
    assert test_before
    store.save_split_settings(ws.conn, trainer, (0.5, 0.2, 0.3), True)
    add_images(ws, admin, [new_image(100 + i, "normal") for i in range(30)])
    test_after = {im.id for im in store.all_images(ws.conn) if im.split == "test"}
    assert test_after == test_before


def test_explicit_splits_are_locked(ws, admin):
    trainer = auth.Actor("tom", "trainer")
    locked = add_images(ws, admin, [new_image(i, "normal", split="test") for i in range(10)])
    add_images(ws, admin, [new_image(100 + i, "normal") for i in range(10)])
    store.save_split_settings(ws.conn, trainer, (0.8, 0.1, 0.1), False)
    assert {store.get_image(ws.conn, i).split for i in locked} == {"test"}
    assert all(store.get_image(ws.conn, i).split_locked for i in locked)


# ---- two processes relabelling the same photos at once --------------------------------------------

WORKER = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from core import auth, store
from core.workspace import open_workspace

root, ws_path, user, labels, rounds, go, pause = sys.argv[1:8]
ws = open_workspace(ws_path)
actor = auth.Actor(user, "labeler")
ids = [image.id for image in store.all_images(ws.conn)]
labels = labels.split(",")
open(go + "." + user, "w").close()  # ready
while not os.path.exists(go):
    time.sleep(0.002)
changed = 0
for i in range(int(rounds)):
    changed += store.relabel(ws.conn, actor, ids, labels[i % len(labels)], source="review")
    time.sleep(float(pause))
ws.close()
print(json.dumps({"user": user, "changed": changed}))
"""


@pytest.mark.parametrize("pause", [0.0, 0.001], ids=["flat-out", "paced"])
def test_two_processes_relabel_the_same_images(ws, admin, tmp_path, pause):
    ids = add_images(ws, admin, [new_image(i, "normal") for i in range(6)])
    first_events = event_count(ws)
    go = tmp_path / "go"
    rounds = 100
    workers = {
        "ana": "broken,normal",
        "bo": "missing,broken",
    }
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(ROOT),
                str(ws.layout.root),
                user,
                labels,
                str(rounds),
                str(go),
                str(pause),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for user, labels in workers.items()
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"go.{user}").exists() for user in workers):
            assert time.monotonic() < deadline, "workers did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        go.touch()
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    reported = {json.loads(out)["user"]: json.loads(out)["changed"] for out, _err in outputs}
    assert all(n > 0 for n in reported.values())

    rows = ws.conn.execute("SELECT * FROM label_events WHERE source = 'review' ORDER BY id").fetchall()
    per_user = {user: sum(1 for r in rows if r["user"] == user) for user in workers}
    assert per_user == reported  # every change each process made is in the log, nothing more
    assert event_count(ws) == first_events + sum(reported.values())
    users_in_order = [r["user"] for r in rows]
    switches = sum(a != b for a, b in zip(users_in_order, users_in_order[1:], strict=False))
    if pause:  # writers at a human pace take turns; flat out, SQLite may let one finish first
        assert switches >= 2, "the two processes did not overlap"

    for image_id in ids:
        events = store.history(ws.conn, image_id)
        # a consistent chain: each event starts from the label the previous one set
        for before, after in zip(events, events[1:], strict=False):
            assert after.old_label == before.new_label != after.new_label
        assert store.get_image(ws.conn, image_id).label == events[-1].new_label
        assert {e.user for e in events[1:]} <= set(workers)
        assert all(parse_time(e.at) for e in events)


# ---- streams through a filter (issue 13, point 9) -------------------------------------------------


def test_query_ids_lists_every_page_of_the_filter(ws, admin):
    ids = add_images(ws, admin, [new_image(i, "normal" if i % 3 else "broken") for i in range(40)])
    query = store.ImageQuery(labels=("normal",))
    page, total = store.query_images(ws.conn, query, 0, 12)
    every = store.query_ids(ws.conn, query)
    assert total == len(every) == 26 and len(page) == 12
    assert every[:12] == [im.id for im in page]  # the gallery's order
    assert set(every) == {ids[i] for i in range(40) if i % 3}
    assert store.query_ids(ws.conn, store.ImageQuery(ids=())) == []


def test_neighbour_walks_the_filter_even_after_labelling_out_of_it(ws, admin, labeler):
    ids = add_images(ws, admin, [new_image(i) for i in range(4)])  # unlabeled; gallery order: newest first
    add_images(ws, admin, [new_image(9, "normal")])
    query = store.ImageQuery(unlabeled=True)
    order = store.query_ids(ws.conn, query)
    assert order == sorted(ids, reverse=True)
    assert store.neighbour(ws.conn, query, order[0], 1) == order[1]
    assert store.neighbour(ws.conn, query, order[1], -1) == order[0]
    assert store.neighbour(ws.conn, query, order[0], -1) is None
    assert store.neighbour(ws.conn, query, order[-1], 1) is None
    store.relabel(ws.conn, labeler, [order[1]], "broken")  # now outside the filter: its place still counts
    assert store.neighbour(ws.conn, query, order[1], 1) == order[2]
    assert store.neighbour(ws.conn, query, order[1], -1) == order[0]
    assert store.neighbour(ws.conn, query, order[0], 1) == order[2]
    with pytest.raises(NotFoundError) as missing:
        store.neighbour(ws.conn, query, 999, 1)
    assert missing.value.key == "dataset.error_no_image" and missing.value.detail == {"id": 999}
