"""The review queue: photos sent by a person (unlike anything the model was trained on), misclassified photos of a
run, suspected label errors, conflicting near-duplicates.

Decisions (relabel, confirm, skip) are recorded; a relabel is a label event with source 'review'. Relabelling a
defect photo normal teaches the next model to pass such defects, so it needs an explicit confirmation.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from core import audit, auth, db, evaluation, health, runs, store
from core.errors import ValidationError

REASONS = ("unfamiliar", "misclassified", "suspect", "duplicate_conflict", "leakage")
REQUEST_REASONS = ("unfamiliar",)  # what a person may send a photo to Review for
DECISIONS = ("relabel", "confirm", "skip")


@dataclass(frozen=True)
class Item:
    """One photo in the queue and why; predicted/probs come from the run or the suspect scores."""

    image_id: int
    reason: str
    given: str | None
    predicted: str | None
    score: float
    probs: tuple[float, ...] = ()
    partner: int | None = None  # the other photo of a near-duplicate pair


def save_suspects(conn: sqlite3.Connection, rows: Sequence[dict[str, object]], job_id: int | None) -> None:
    """Replace the stored suspect scores with a fresh computation (one transaction)."""
    now = db.now_iso()
    with db.transaction(conn):
        conn.execute("DELETE FROM suspects")
        conn.executemany(
            "INSERT INTO suspects (image_id, given, predicted, score, flagged, job_id, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(r["image"], r["given"], r["predicted"], r["score"], int(bool(r["flagged"])), job_id, now) for r in rows],
        )


def list_suspects(conn: sqlite3.Connection, flagged_only: bool = True) -> list[Item]:
    sql = "SELECT * FROM suspects" + (" WHERE flagged = 1" if flagged_only else "") + " ORDER BY score DESC"
    return [Item(r["image_id"], "suspect", r["given"], r["predicted"], r["score"]) for r in conn.execute(sql)]


def suspects_computed_at(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT MAX(at) FROM suspects").fetchone()
    return row[0] if row else None


def misclassified(conn: sqlite3.Connection, run_id: int) -> list[Item]:
    """Validation and test photos of the run whose prediction differs from the label they had then."""
    classes = runs.get_run(conn, run_id).class_names
    items = []
    for split in ("val", "test"):
        for p in runs.predictions(conn, run_id, split):
            if p["label"] != p["predicted"]:  # score: how sure the model is that the label is wrong
                score = max(p["probs"]) - p["probs"][classes.index(p["label"])]
                items.append(Item(p["image_id"], "misclassified", p["label"], p["predicted"], score, tuple(p["probs"])))
    return sorted(items, key=lambda it: -it.score)


def duplicate_items(conn: sqlite3.Connection) -> list[Item]:
    """Near-duplicate photos that carry different labels, and near-duplicates split across train and test."""
    images = store.all_images(conn)
    out = []
    for i, j, bits in health.near_duplicate_pairs([im.phash for im in images]):
        a, b = images[i], images[j]
        if a.label and b.label and a.label != b.label:
            out.append(Item(a.id, "duplicate_conflict", a.label, b.label, 1.0 - bits / 64, partner=b.id))
        elif {a.split, b.split} == {"train", "test"}:
            out.append(Item(a.id, "leakage", a.label, b.label, 1.0 - bits / 64, partner=b.id))
    return out


def request_review(
    conn: sqlite3.Connection,
    actor: auth.Actor,
    image_id: int,
    reason: str,
    run_id: int | None = None,
    percentile: float | None = None,
    predicted: str | None = None,
) -> None:
    """Put a stored photo in the Review queue for a person to label (uploader role), with why and what the model
    said; recorded and audited in one transaction. A photo already waiting there is not queued twice."""
    auth.require(actor, "upload", conn)
    if reason not in REQUEST_REASONS:
        raise ValidationError(
            f"a photo is sent to Review for one of: {', '.join(REQUEST_REASONS)}; not {reason!r}",
            key="review.error.request_reason",
            reason=reason,
        )
    store.get_image(conn, image_id)  # NotFoundError for a photo that is not there
    with db.transaction(conn):
        waiting = conn.execute(
            "SELECT 1 FROM review_requests r WHERE r.image_id = ? AND NOT EXISTS"
            " (SELECT 1 FROM review_decisions d WHERE d.image_id = r.image_id AND d.at >= r.at)",
            (image_id,),
        ).fetchone()
        if waiting:
            return
        conn.execute(
            "INSERT INTO review_requests (image_id, reason, run_id, percentile, predicted, user, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (image_id, reason, run_id, percentile, predicted, actor.name, db.now_iso()),
        )
        audit.record(
            conn, actor.name, "review.request", f"#{image_id}", reason=reason, run=run_id, percentile=percentile
        )


def requested(conn: sqlite3.Connection) -> list[Item]:
    """Photos sent to Review and not decided since, newest first; score: the model's familiarity percentile as a
    share (1.0: unknown)."""
    rows = conn.execute(
        "SELECT r.image_id, r.reason, r.percentile, r.predicted, i.label FROM review_requests r"
        " JOIN images i ON i.id = r.image_id WHERE NOT EXISTS"
        " (SELECT 1 FROM review_decisions d WHERE d.image_id = r.image_id AND d.at >= r.at) ORDER BY r.id DESC"
    )
    return [Item(r[0], r[1], r[4], r[3], (r[2] if r[2] is not None else 100.0) / 100.0) for r in rows]


def queue(conn: sqlite3.Connection, run_id: int | None, include: Sequence[str] = REASONS) -> list[Item]:
    """All reasons, most deserving first within each, without photos already decided after their reason
    appeared, trashed photos, or the same photo twice."""
    decided = {r[0] for r in conn.execute("SELECT DISTINCT image_id FROM review_decisions")}
    live = {im.id for im in store.all_images(conn)}
    parts: list[Item] = [it for it in requested(conn) if it.reason in include]
    if run_id is not None and "misclassified" in include:
        parts += misclassified(conn, run_id)
    if "suspect" in include:
        parts += list_suspects(conn)
    parts += [it for it in duplicate_items(conn) if it.reason in include]
    seen: set[int] = set()
    out = []
    for item in parts:
        fresh = item.reason in REQUEST_REASONS or item.image_id not in decided  # a request is newer than its photo
        if item.image_id in live and fresh and item.image_id not in seen:
            seen.add(item.image_id)
            out.append(item)
    return out


def needs_confirmation(current: str | None, label: str | None) -> bool:
    """True when a relabel turns a defect photo (any class but normal) into a normal one."""
    return current is not None and current != evaluation.NORMAL and label == evaluation.NORMAL


def _refuse_decided(conn: sqlite3.Connection, image_id: int) -> None:
    """A photo leaves the queue with its first decision; one decided already is refused, not decided twice.

    This catches a key pressed on a card the page is still replacing: the browser still holds the previous
    photo's buttons, so the click would otherwise land on the photo just decided.
    """
    done = conn.execute(
        "SELECT decision, user, at FROM review_decisions WHERE image_id = ? ORDER BY id DESC LIMIT 1", (image_id,)
    ).fetchone()
    if (
        done is not None
        and not conn.execute(  # sent to Review again since: it is waiting once more
            "SELECT 1 FROM review_requests WHERE image_id = ? AND at > ?", (image_id, done[2])
        ).fetchone()
    ):
        raise ValidationError(
            f"photo {image_id} was already reviewed ({done[0]} by {done[1]} at {done[2]}): nothing recorded",
            key="review.error.decided",
            id=image_id,
            decision=done[0],
            user=done[1],
            at=done[2],
        )


def record_decision(
    conn: sqlite3.Connection,
    actor: auth.Actor,
    item: Item,
    decision: str,
    label: str | None = None,
    confirmed: bool = False,
) -> None:
    """Record a review decision; 'relabel' also sets the label (a label event with source 'review'),
    'confirm' records the current label as checked (also a 'review' label event), 'skip' only the decision.

    A relabel from a defect class to normal is refused unless `confirmed`: the page asks the user first. A photo
    decided already is refused, nothing changed.
    """
    if decision not in DECISIONS:
        raise ValidationError(
            f"decision {decision!r} is not one of {DECISIONS}",
            key="review.error.decision",
            decision=decision,
            options=", ".join(DECISIONS),
        )
    auth.require(actor, "relabel", conn)
    _refuse_decided(conn, item.image_id)
    if decision == "relabel":
        current = store.get_image(conn, item.image_id).label
        if needs_confirmation(current, label) and not confirmed:
            raise ValidationError(
                f"photo {item.image_id} is labelled {current!r}: relabelling it {label!r} needs a "
                "confirmation (confirmed=True)",
                key="review.error.to_normal",
                id=item.image_id,
                old=current,
                new=label,
            )
        store.relabel(conn, actor, [item.image_id], label, "review")
    elif decision == "confirm":
        current = store.get_image(conn, item.image_id).label
        if current is None:
            raise ValidationError(
                f"photo {item.image_id} has no label to confirm: choose its label",
                key="review.error.confirm_unlabelled",
                id=item.image_id,
            )
        store.relabel(conn, actor, [item.image_id], current, "review", record_unchanged=True)
    with db.transaction(conn):
        conn.execute(
            "INSERT INTO review_decisions (image_id, reason, decision, user, at) VALUES (?, ?, ?, ?, ?)",
            (item.image_id, item.reason, decision, actor.name, db.now_iso()),
        )
        if decision == "skip":  # relabel and confirm are audited by store.relabel; a skip changes no label
            audit.record(conn, actor.name, "review.skip", f"#{item.image_id}", reason=item.reason)
