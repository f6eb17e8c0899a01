"""Runs: the frozen snapshot a run trains on, its per-epoch history, results and stored predictions."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from core import audit, auth, db, label_set, store
from core.config import TrainConfig
from core.errors import NotFoundError, ValidationError


@dataclass(frozen=True)
class Run:
    id: int
    job_id: int
    kind: str
    arch: str
    config: TrainConfig
    class_names: tuple[str, ...]
    weights: dict[str, object]
    device: str | None
    versions: dict[str, str]
    created_at: str
    finished_at: str | None
    best_epoch: int | None
    val_accuracy: float | None
    val_macro_f1: float | None
    test_accuracy: float | None
    test_macro_f1: float | None
    checkpoint: str | None
    operating_point: dict[str, object] | None = None
    cpu_ms: float | None = None  # CPU latency per photo, batch 1, measured when the run finished
    temperature: float | None = None  # the logits' divisor fitted on validation; None: finished before calibration

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


@dataclass(frozen=True)
class SnapshotItem:
    """One photo as the run sees it, for ever: its label and split at the moment the run started."""

    image_id: int
    sha256: str
    label: str
    split: str
    held_out: bool


@dataclass(frozen=True)
class Epoch:
    epoch: int
    train_loss: float | None
    train_accuracy: float | None
    train_macro_f1: float | None
    val_loss: float | None
    val_accuracy: float | None
    val_macro_f1: float | None
    lr: float | None
    seconds: float | None
    images_per_s: float | None
    steps: int | None
    at: str


def _run(row: sqlite3.Row) -> Run:
    values = dict(row)
    values["config"] = TrainConfig.from_dict(json.loads(values["config"]))
    values["class_names"] = tuple(json.loads(values["class_names"]))
    values["weights"] = json.loads(values["weights"])
    values["versions"] = json.loads(values["versions"])
    values["operating_point"] = json.loads(values["operating_point"]) if values.get("operating_point") else None
    return Run(**values)


def _held_out(items: list[store.Image], fraction: float, seed: int) -> set[int]:
    """A stratified, seeded part of each label's train photos, ordered by a hash of seed and content."""
    by_label: dict[str, list[store.Image]] = defaultdict(list)
    for image in items:
        by_label[image.label].append(image)
    chosen: set[int] = set()
    for group in by_label.values():
        if len(group) < 2:
            continue
        count = max(1, round(len(group) * fraction))
        ranked = sorted(group, key=lambda im: hashlib.sha256(f"{seed}:{im.sha256}".encode()).hexdigest())
        chosen.update(im.id for im in ranked[:count])
    return chosen


def plan_snapshot(conn: sqlite3.Connection, config: TrainConfig) -> tuple[tuple[str, ...], list[SnapshotItem]]:
    """Classes (labels with train photos, in configured order) and each labelled photo's run split."""
    images = [im for im in store.all_images(conn) if im.label]
    train_labels = {im.label for im in images if (im.split or "train") == "train"}
    classes = tuple(lab.name for lab in label_set.list_labels(conn) if lab.name in train_labels)
    if len(classes) < 2:
        raise ValidationError(
            f"training needs photos of at least two labels in the train split; found {len(classes)}"
            f" ({', '.join(classes) or 'none'}). Label more photos on the Dataset page.",
            key="evaluate.need_two_labels",
            n=len(classes),
            found=", ".join(classes) or "—",
        )
    images = [im for im in images if im.label in classes]
    train = [im for im in images if (im.split or "train") == "train"]
    has_val = any(im.split == "val" for im in images)
    held = set() if has_val else _held_out(train, config.val_fraction, config.seed)
    items = [
        SnapshotItem(im.id, im.sha256, im.label, "val" if im.id in held else (im.split or "train"), im.id in held)
        for im in images
    ]
    return classes, items


def create_run(
    conn: sqlite3.Connection, job_id: int, config: TrainConfig, weights: dict[str, object], versions: dict[str, str]
) -> Run:
    """Freeze the labelled photos, their splits and the config into a new run (one transaction)."""
    with db.transaction(conn):
        classes, items = plan_snapshot(conn, config)
        cur = conn.execute(
            "INSERT INTO runs (job_id, kind, arch, config, class_names, weights, versions, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job_id,
                config.kind,
                config.arch,
                json.dumps(config.to_dict()),
                json.dumps(classes),
                json.dumps(weights),
                json.dumps(versions),
                db.now_iso(),
            ),
        )
        run_id = cur.lastrowid
        conn.executemany(
            "INSERT INTO run_images (run_id, image_id, label, split, held_out) VALUES (?, ?, ?, ?, ?)",
            [(run_id, it.image_id, it.label, it.split, int(it.held_out)) for it in items],
        )
    return get_run(conn, run_id)


def get_run(conn: sqlite3.Connection, run_id: int) -> Run:
    row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"run {run_id} does not exist", key="evaluate.no_run", run=run_id)
    return _run(row)


def run_for_job(conn: sqlite3.Connection, job_id: int) -> Run | None:
    row = conn.execute("SELECT * FROM runs WHERE job_id = ?", (job_id,)).fetchone()
    return _run(row) if row else None


def list_runs(conn: sqlite3.Connection) -> list[Run]:
    return [_run(row) for row in conn.execute("SELECT * FROM runs ORDER BY id DESC")]


def snapshot(conn: sqlite3.Connection, run_id: int) -> list[SnapshotItem]:
    rows = conn.execute(
        "SELECT r.image_id, i.sha256, r.label, r.split, r.held_out FROM run_images r"
        " JOIN images i ON i.id = r.image_id WHERE r.run_id = ? ORDER BY r.image_id",
        (run_id,),
    ).fetchall()
    return [SnapshotItem(row[0], row[1], row[2], row[3], bool(row[4])) for row in rows]


def set_device(conn: sqlite3.Connection, run_id: int, device: str, weights: dict[str, object]) -> None:
    with db.transaction(conn):
        conn.execute("UPDATE runs SET device = ?, weights = ? WHERE id = ?", (device, json.dumps(weights), run_id))


def record_epoch(conn: sqlite3.Connection, run_id: int, epoch: int, values: dict[str, float | int | None]) -> None:
    """Store one finished epoch (replacing a row left by an attempt that was interrupted)."""
    columns = [f.name for f in Epoch.__dataclass_fields__.values() if f.name not in ("epoch", "at")]
    with db.transaction(conn):
        conn.execute(
            f"INSERT OR REPLACE INTO epochs (run_id, epoch, at, {', '.join(columns)})"
            f" VALUES (?, ?, ?, {', '.join('?' for _ in columns)})",
            (run_id, epoch, db.now_iso(), *(values.get(c) for c in columns)),
        )


def epochs(conn: sqlite3.Connection, run_id: int) -> list[Epoch]:
    rows = conn.execute("SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch", (run_id,)).fetchall()
    return [Epoch(**{k: row[k] for k in row.keys() if k != "run_id"}) for row in rows]


def finish_run(  # noqa: PLR0913 (one transaction stores everything a finished run leaves)
    conn: sqlite3.Connection,
    run_id: int,
    best_epoch: int | None,
    results: dict[str, dict[str, float]],
    checkpoint: str | None,
    predictions: Sequence[tuple[int, str, str, Sequence[float]]],
    cpu_ms: float | None = None,
    temperature: float = 1.0,
) -> None:
    """Store the best epoch, its val/test figures, per-photo predictions (id, split, label, probs) and the
    temperature its probabilities were calibrated with."""
    val, test = results.get("val", {}), results.get("test", {})
    with db.transaction(conn):
        conn.execute(
            "UPDATE runs SET finished_at = ?, best_epoch = ?, val_accuracy = ?, val_macro_f1 = ?,"
            " test_accuracy = ?, test_macro_f1 = ?, checkpoint = ?, cpu_ms = ?, temperature = ? WHERE id = ?",
            (
                db.now_iso(),
                best_epoch,
                val.get("accuracy"),
                val.get("macro_f1"),
                test.get("accuracy"),
                test.get("macro_f1"),
                checkpoint,
                cpu_ms,
                float(temperature),
                run_id,
            ),
        )
        conn.execute("DELETE FROM predictions WHERE run_id = ?", (run_id,))
        conn.executemany(
            "INSERT INTO predictions (run_id, image_id, split, predicted, probs) VALUES (?, ?, ?, ?, ?)",
            [
                (run_id, image_id, split, label, json.dumps([round(float(p), 6) for p in probs]))
                for image_id, split, label, probs in predictions
            ],
        )


class StoredPrediction(TypedDict):
    image_id: int
    split: str
    label: str  # the snapshot label (what the run trained and was scored on)
    predicted: str
    probs: list[float]  # in the order of the run's classes


def predictions(conn: sqlite3.Connection, run_id: int, split: str | None = None) -> list[StoredPrediction]:
    """Stored predictions with the snapshot label: image_id, split, label, predicted, probs."""
    sql = (
        "SELECT p.image_id, p.split, r.label, p.predicted, p.probs FROM predictions p"
        " JOIN run_images r ON r.run_id = p.run_id AND r.image_id = p.image_id WHERE p.run_id = ?"
    )
    params: list[object] = [run_id]
    if split:
        sql += " AND p.split = ?"
        params.append(split)
    rows = conn.execute(sql + " ORDER BY p.image_id", params).fetchall()
    return [
        StoredPrediction(image_id=r[0], split=r[1], label=r[2], predicted=r[3], probs=json.loads(r[4])) for r in rows
    ]


# ---- operating point and production ---------------------------------------------------------


def set_operating_point(conn: sqlite3.Connection, actor: auth.Actor, run_id: int, point: dict[str, object]) -> None:
    """Store the operating point diagnosis will use for this run."""
    auth.require(actor, "promote")
    get_run(conn, run_id)
    with db.transaction(conn):
        conn.execute("UPDATE runs SET operating_point = ? WHERE id = ?", (json.dumps(point), run_id))
        audit.record(conn, actor.name, "settings", f"run {run_id}", operating_point=point.get("threshold"))


def production_run_id(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT run_id FROM promotions ORDER BY id DESC LIMIT 1").fetchone()
    return row[0] if row else None


def record_promotion(
    conn: sqlite3.Connection,
    actor: auth.Actor,
    run_id: int,
    forced: bool,
    reason: str,
    comparison: dict[str, object] | None = None,
) -> None:
    """Append the promotion; comparison: core.compare's summary against the model it replaces (None: the first)."""
    auth.require(actor, "promote")
    counts = {k: len(v) if isinstance(v, list) else v for k, v in (comparison or {}).items() if k != "against"}
    with db.transaction(conn):
        conn.execute(
            "INSERT INTO promotions (run_id, previous_run_id, user, at, forced, reason, comparison)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                production_run_id(conn),
                actor.name,
                db.now_iso(),
                int(forced),
                reason,
                json.dumps(comparison) if comparison is not None else None,
            ),
        )
        audit.record(conn, actor.name, "promote", f"run {run_id}", forced=forced, reason=reason, **counts)


class PromotionRecord(TypedDict):
    """A row of the promotions table (append-only: the production model is the latest row's run)."""

    id: int
    run_id: int
    previous_run_id: int | None
    user: str
    at: str
    forced: int  # 1: promoted past a refusal, or by --force
    reason: str
    # core.compare's summary against the previous model: against, fixed and broken (image ids), same, left_out;
    # None for the first production model and for promotions recorded before the comparison was kept
    comparison: dict[str, object] | None


def promotions(conn: sqlite3.Connection) -> list[PromotionRecord]:
    """Every promotion, latest first."""
    rows = conn.execute("SELECT * FROM promotions ORDER BY id DESC").fetchall()
    return [
        PromotionRecord(**dict(r, comparison=json.loads(r["comparison"]) if r["comparison"] else None)) for r in rows
    ]
