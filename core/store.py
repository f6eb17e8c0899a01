"""Image, label, split and settings CRUD returning dataclasses (schema and connections: core.db)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypedDict

from core import audit, auth, db, label_set, splits
from core.errors import NotFoundError, ValidationError

SPLITS = ("train", "val", "test")
EVENT_SOURCES = ("upload", "manual", "review", "import", "diagnose", "inspection")
IMAGE_SOURCES = ("upload", "import", "demo", "diagnose", "inspection")


@dataclass(frozen=True)
class Photo:
    """What ingest learns about a photo: content hash, names, size and quality signals, label, split."""

    sha256: str
    ext: str
    display_name: str
    origin: str
    source: str
    width: int
    height: int
    bytes: int
    phash: str
    brightness: float
    sharpness: float
    label: str | None
    split: str | None  # for a NewImage, None: the stratified automatic assignment decides


@dataclass(frozen=True)
class NewImage(Photo):
    """A decoded, validated photo whose files are already on disk, ready for its row."""


@dataclass(frozen=True)
class Image(Photo):
    """A stored photo: its row."""

    id: int
    split_locked: bool
    added_by: str
    added_at: str
    deleted_at: str | None
    deleted_by: str | None


@dataclass(frozen=True)
class LabelEvent:
    id: int
    image_id: int
    old_label: str | None
    new_label: str | None
    user: str
    at: str
    source: str


# ---- labels and settings -------------------------------------------------------------------


def get_setting(conn: sqlite3.Connection, key: str, default: str) -> str:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return row["value"] if row else default


def put_setting(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Inside the caller's transaction (with its role check and audit entry): set one setting."""
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


# ---- images ----------------------------------------------------------------------------------

# the Photo fields an images row keeps
_PHOTO_COLUMNS = tuple(
    "sha256 ext display_name origin source width height bytes phash brightness sharpness label split".split()
)
_INSERT_IMAGE = (
    f"INSERT INTO images ({', '.join(_PHOTO_COLUMNS)}, split_locked, added_by, added_at)"
    f" VALUES ({', '.join('?' * (len(_PHOTO_COLUMNS) + 3))}) ON CONFLICT(sha256) DO NOTHING"
)


def _image(row: sqlite3.Row) -> Image:
    data = dict(row)
    data["split_locked"] = bool(data["split_locked"])
    return Image(**data)


def find_shas(conn: sqlite3.Connection, shas: Sequence[str]) -> dict[str, Image]:
    """Stored images (trashed too) among the given hashes, keyed by hash."""
    found: dict[str, Image] = {}
    for start in range(0, len(shas), 500):
        chunk = list(shas[start : start + 500])
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(f"SELECT * FROM images WHERE sha256 IN ({marks})", chunk):
            found[row["sha256"]] = _image(row)
    return found


def insert_images(
    conn: sqlite3.Connection,
    actor: auth.Actor,
    items: Sequence[NewImage],
    event_source: str,
    ratios: tuple[float, float, float],
    book: splits.Book | None = None,
) -> dict[str, tuple[int, bool]]:
    """Insert new images, their first label events and their splits in one transaction.

    Returns sha256 -> (image id, inserted); inserted is False where another process stored the
    same photo first, so concurrent imports of one file never fail or double it.
    """
    auth.require(actor, "upload")
    if event_source not in EVENT_SOURCES:
        raise ValidationError(f"event source {event_source!r} is unknown; valid: {EVENT_SOURCES}")
    at = db.now_iso()
    result: dict[str, tuple[int, bool]] = {}
    new: list[splits.SplitItem] = []  # the photos this call inserts, for the split plan
    with db.transaction(conn):
        for label in {item.label for item in items}:  # once a call, not once a photo
            label_set.check_label(conn, label)
        for item in items:
            values = [getattr(item, column) for column in _PHOTO_COLUMNS]
            cur = conn.execute(_INSERT_IMAGE, (*values, int(item.split is not None), actor.name, at))
            if cur.rowcount == 0:
                row = conn.execute("SELECT id FROM images WHERE sha256 = ?", (item.sha256,)).fetchone()
                result[item.sha256] = (row["id"], False)
                continue
            result[item.sha256] = (cur.lastrowid, True)
            new.append(splits.SplitItem(cur.lastrowid, item.sha256, item.label, item.split, item.split is not None))
            if item.label is not None:
                conn.execute(
                    "INSERT INTO label_events (image_id, old_label, new_label, user, at, source)"
                    " VALUES (?, NULL, ?, ?, ?, ?)",
                    (cur.lastrowid, item.label, actor.name, at, event_source),
                )
        _apply_split_plan(conn, ratios, {item.label for item in items}, book, new)
        added = [image_id for image_id, inserted in result.values() if inserted]
        if added:
            audit.record(conn, actor.name, "upload", _ids_text(added), count=len(added), source=event_source)
    return result


def get_image(conn: sqlite3.Connection, image_id: int) -> Image:
    row = conn.execute("SELECT * FROM images WHERE id = ?", (image_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"image {image_id} does not exist", key="dataset.error_no_image", id=image_id)
    return _image(row)


def resolve_image(conn: sqlite3.Connection, ref: str) -> Image:
    """An image by numeric id or by a SHA-256 prefix of at least 6 hex digits (unique)."""
    ref = ref.strip().lower()
    if ref.isdigit() and len(ref) < 12:
        found = conn.execute("SELECT 1 FROM images WHERE id = ?", (int(ref),)).fetchone()
        if found or len(ref) < 6:  # else try it as a SHA prefix: ~2% of 8-digit prefixes are all digits
            return get_image(conn, int(ref))
    if len(ref) < 6 or any(ch not in "0123456789abcdef" for ch in ref):
        raise ValidationError(f"{ref!r} is neither an image id nor a SHA-256 prefix of 6+ hex digits")
    rows = conn.execute("SELECT * FROM images WHERE sha256 LIKE ? LIMIT 2", (ref + "%",)).fetchall()
    if not rows:
        raise NotFoundError(f"no image has a SHA-256 starting with {ref!r}")
    if len(rows) > 1:
        raise ValidationError(f"SHA-256 prefix {ref!r} matches several images; give more digits")
    return _image(rows[0])


@dataclass(frozen=True)
class ImageQuery:
    """Gallery filters; None means 'any'."""

    labels: tuple[str, ...] | None = None
    unlabeled: bool = False
    splits: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    added_from: str | None = None  # ISO date, inclusive
    added_to: str | None = None  # ISO date, inclusive
    trashed: bool = False
    ids: tuple[int, ...] | None = None


def _where(query: ImageQuery) -> tuple[str, list[object]]:
    clauses = ["deleted_at IS NOT NULL" if query.trashed else "deleted_at IS NULL"]
    params: list[object] = []
    label_parts = []
    if query.labels:
        label_parts.append(f"label IN ({','.join('?' * len(query.labels))})")
        params.extend(query.labels)
    if query.unlabeled:
        label_parts.append("label IS NULL")
    if label_parts:
        clauses.append("(" + " OR ".join(label_parts) + ")")
    for column, values in (("split", query.splits), ("source", query.sources), ("id", query.ids)):
        if values is not None:
            clauses.append(f"{column} IN ({','.join('?' * len(values))})" if values else "0")
            params.extend(values)
    if query.added_from:
        clauses.append("added_at >= ?")
        params.append(query.added_from)
    if query.added_to:
        clauses.append("added_at < date(?, '+1 day')")
        params.append(query.added_to)
    return " AND ".join(clauses), params


def query_images(
    conn: sqlite3.Connection, query: ImageQuery, offset: int = 0, limit: int = 48
) -> tuple[list[Image], int]:
    """One page of images matching the filters, newest first, and the total count."""
    where, params = _where(query)
    total = conn.execute(f"SELECT COUNT(*) FROM images WHERE {where}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT * FROM images WHERE {where} ORDER BY added_at DESC, id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return [_image(row) for row in rows], total


def query_ids(conn: sqlite3.Connection, query: ImageQuery) -> list[int]:
    """The ids of every image matching the filters (all pages), in gallery order."""
    where, params = _where(query)
    sql = f"SELECT id FROM images WHERE {where} ORDER BY added_at DESC, id DESC"
    return [row[0] for row in conn.execute(sql, params)]


def neighbour(conn: sqlite3.Connection, query: ImageQuery, image_id: int, step: int) -> int | None:
    """The image after (step > 0) or before (step < 0) image_id in the filter's gallery order, or None;
    image_id itself need not match the filter (it may just have been labelled out of it)."""
    here = get_image(conn, image_id)
    where, params = _where(query)
    after, order = ("<", "DESC") if step > 0 else (">", "ASC")
    row = conn.execute(
        f"SELECT id FROM images WHERE {where} AND (added_at, id) {after} (?, ?)"
        f" ORDER BY added_at {order}, id {order} LIMIT 1",
        [*params, here.added_at, here.id],
    ).fetchone()
    return row[0] if row else None


def all_images(conn: sqlite3.Connection, include_trashed: bool = False) -> list[Image]:
    sql = "SELECT * FROM images" + ("" if include_trashed else " WHERE deleted_at IS NULL")
    return [_image(row) for row in conn.execute(sql + " ORDER BY id")]


def label_split_counts(conn: sqlite3.Connection) -> dict[tuple[str | None, str | None], int]:
    """Photos per (label, split), None for no label or no split, trash excluded: one GROUP BY."""
    sql = "SELECT label, split, COUNT(*) n FROM images WHERE deleted_at IS NULL GROUP BY label, split"
    return {(row["label"], row["split"]): row["n"] for row in conn.execute(sql)}


class Stats(TypedDict):
    """The CLI `stats` contract (JSON): photos outside the trash, by label and by split."""

    total: int
    by_label: dict[str, int]
    by_split: dict[str, int]
    unlabeled: int


def stats(conn: sqlite3.Connection) -> Stats:
    """The CLI `stats` contract: total, by_label, by_split, unlabeled (trash excluded), from label_split_counts."""
    cells = label_split_counts(conn)
    by_label, by_split = {lab.name: 0 for lab in label_set.list_labels(conn)}, {name: 0 for name in SPLITS}
    for (label, split), n in cells.items():
        by_label[label], by_split[split] = by_label.get(label, 0) + n, by_split.get(split, 0) + n
    unlabeled, _ = by_label.pop(None, 0), by_split.pop(None, 0)  # no label, no split: not a column of either
    return Stats(total=sum(cells.values()), by_label=by_label, by_split=by_split, unlabeled=unlabeled)


# ---- labelling -------------------------------------------------------------------------------


def relabel(
    conn: sqlite3.Connection,
    actor: auth.Actor,
    image_ids: Iterable[int],
    label: str | None,
    source: str = "manual",
    record_unchanged: bool = False,
) -> int:
    """Set the label of images; one append-only event per change, all in one transaction.

    Returns how many images changed. A confirmation (same label) is only recorded when asked.
    """
    auth.require(actor, "relabel")
    if source not in EVENT_SOURCES:
        raise ValidationError(f"event source {source!r} is unknown; valid: {', '.join(EVENT_SOURCES)}")
    wanted = sorted(set(image_ids))
    changed = 0
    at = db.now_iso()
    with db.transaction(conn):
        label_set.check_label(conn, label)
        for image_id in wanted:
            row = conn.execute("SELECT label FROM images WHERE id = ? AND deleted_at IS NULL", (image_id,)).fetchone()
            if row is None:
                raise NotFoundError(
                    f"image {image_id} does not exist or is in the trash", key="dataset.error_gone", id=image_id
                )
            if row["label"] == label and not record_unchanged:
                continue
            conn.execute(
                "INSERT INTO label_events (image_id, old_label, new_label, user, at, source) VALUES (?, ?, ?, ?, ?, ?)",
                (image_id, row["label"], label, actor.name, at, source),
            )
            conn.execute("UPDATE images SET label = ? WHERE id = ?", (label, image_id))
            changed += row["label"] != label
        audit.record(conn, actor.name, "relabel", _ids_text(wanted), label=label, changed=changed, source=source)
    return changed


def history(conn: sqlite3.Connection, image_id: int) -> list[LabelEvent]:
    get_image(conn, image_id)
    rows = conn.execute("SELECT * FROM label_events WHERE image_id = ? ORDER BY id", (image_id,)).fetchall()
    return [LabelEvent(**dict(row)) for row in rows]


def set_trashed(conn: sqlite3.Connection, actor: auth.Actor, image_ids: Iterable[int], trashed: bool) -> int:
    """Move images to the trash (files kept) or restore them. Admin only."""
    auth.require(actor, "delete" if trashed else "restore")
    ids = sorted(set(image_ids))
    with db.transaction(conn):
        if trashed:
            sql = "UPDATE images SET deleted_at = ?, deleted_by = ? WHERE id = ? AND deleted_at IS NULL"
            args = [(db.now_iso(), actor.name, i) for i in ids]
        else:
            sql = "UPDATE images SET deleted_at = NULL, deleted_by = NULL WHERE id = ? AND deleted_at IS NOT NULL"
            args = [(i,) for i in ids]
        count = sum(conn.execute(sql, arg).rowcount for arg in args)
        audit.record(conn, actor.name, "delete" if trashed else "restore", _ids_text(ids), count=count)
        return count


def _ids_text(ids: Sequence[int]) -> str:
    """The audit target for a set of photos: their ids, shortened when there are many."""
    shown = ", ".join(f"#{i}" for i in list(ids)[:20])
    return shown + (f" … ({len(ids)} photos)" if len(ids) > 20 else "")


# ---- splits ----------------------------------------------------------------------------------


Ratios = tuple[float, float, float]


def split_settings(conn: sqlite3.Connection, default: Ratios) -> tuple[Ratios, bool]:
    raw = get_setting(conn, "split_ratios", ",".join(str(r) for r in default))
    ratios = tuple(float(part) for part in raw.split(","))
    return (ratios[0], ratios[1], ratios[2]), get_setting(conn, "test_locked", "0") == "1"


def save_split_settings(
    conn: sqlite3.Connection, actor: auth.Actor, ratios: tuple[float, float, float], test_locked: bool
) -> int:
    """Store split ratios and the test lock, then move the fewest images needed. Returns moves."""
    auth.require(actor, "split")
    splits.check_ratios(ratios)
    with db.transaction(conn):
        put_setting(conn, "split_ratios", ",".join(f"{r:.4f}" for r in ratios))
        put_setting(conn, "test_locked", "1" if test_locked else "0")
        moves = _apply_split_plan(conn, ratios, None)
        audit.record(conn, actor.name, "split", "ratios", ratios=list(ratios), test_locked=test_locked, moved=moves)
        return moves


def _apply_split_plan(
    conn: sqlite3.Connection,
    default_ratios: tuple[float, float, float],
    labels: set[str | None] | None,
    book: splits.Book | None = None,
    new: Sequence[splits.SplitItem] = (),
) -> int:
    """Inside a transaction: rebalance the given label groups (all when None), reading only their photos; with an
    import's book, only the photos of groups its counts cannot plan (splits.Book). Returns moves."""
    ratios, test_locked = split_settings(conn, default_ratios)

    def rows(*label: str | None) -> list[splits.SplitItem]:  # one label group's photos; without a label, all
        sql = "SELECT id, sha256, label, split, split_locked FROM images WHERE deleted_at IS NULL"
        found = conn.execute(sql + (" AND label IS ?" if label else ""), label)
        return [splits.SplitItem(r["id"], r["sha256"], r["label"], r["split"], bool(r["split_locked"])) for r in found]

    moves = (
        splits.plan(rows(), ratios, test_locked)
        if labels is None
        else (book or splits.Book()).plan(
            conn.execute("PRAGMA data_version").fetchone()[0], labels, new, (ratios, test_locked), rows
        )
    )
    conn.executemany("UPDATE images SET split = ? WHERE id = ?", [(s, i) for i, s in moves.items()])
    return len(moves)
