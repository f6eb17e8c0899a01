"""The inspection record: a whole photo judged position by position, stored append-only with its photo, station
version, model run, threshold, alignment, inspector and time. A correction is a new event, never an update
(triggers refuse UPDATE and DELETE); a position's current label is its last correction, else the judged one."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core import audit, auth, db, inspection_record, label_set, record_files, runs, stations
from core.errors import NotFoundError, ValidationError
from core.inspection_record import AlignmentRecord, Correction, Inspection, Point, StoredPosition
from core.stations import Box, Station
from core.workspace import Workspace

if TYPE_CHECKING:
    from core.align import Alignment

VERDICTS = ("pass", "defect", "check")
MAX_ASSET = 128
MAX_NOTE = 500


@dataclass(frozen=True)
class PositionResult:
    name: str
    box: Box  # photo px (bounding box of the aligned position)
    corners: tuple[Point, Point, Point, Point]  # photo px
    label: str | None  # decision at the operating point; None when unfit
    defect: bool  # label is not normal; also True when unfit (never a silent pass)
    probs: dict[str, float]  # {} when unfit
    unfit: str | None = None  # why not judged: "alignment" | "outside"
    familiarity: dict[str, object] | None = None  # {"percentile", "unfamiliar"}; None: the model has no index


@dataclass(frozen=True)
class InspectionResult:
    photo_sha256: str
    photo_name: str
    size: tuple[int, int]
    station: Station
    asset: str
    alignment: Alignment
    positions: tuple[PositionResult, ...]
    run_id: int
    threshold: float | None

    @property
    def verdict(self) -> str:
        """Check when alignment is unsure or a position was not judged; defect when one is; else pass."""
        labels = [(p.label, p.defect) for p in self.positions]
        unfamiliar = any(inspection_record.is_unfamiliar(p.familiarity) for p in self.positions)
        return inspection_record.verdict_of(self.alignment.ok, labels, unfamiliar)


# ---- recording ----------------------------------------------------------------------------------------------


def check_asset(asset: object) -> str:
    """The asset as typed or scanned (vehicle id, wheel): at most MAX_ASSET characters, no control characters."""
    if not isinstance(asset, str) or len(asset) > MAX_ASSET or any(ord(c) < 32 or ord(c) == 127 for c in asset):
        shown = ascii(str(asset)[:40])[1:-1]
        raise ValidationError(
            f"asset '{shown}' is not valid: at most {MAX_ASSET} characters, no control characters",
            key="inspect.record.error_asset",
            asset=shown,
            limit=MAX_ASSET,
        )
    return asset.strip()


def _check_result(conn: sqlite3.Connection, result: InspectionResult) -> None:
    """The result names a stored station version and run, and exactly that station's positions."""
    stored = stations.station_by_id(conn, result.station.id)
    runs.get_run(conn, result.run_id)
    names = [p.name for p in result.positions]
    if names != [p.name for p in stored.positions]:
        raise ValidationError(
            f"the result's positions {names} are not those of station {stored.name!r} version {stored.version}",
            key="inspect.record.error_positions",
            station=stored.name,
        )
    for pos in result.positions:
        if pos.label is None and (pos.unfit is None or not pos.defect):
            raise ValidationError(
                f"position {pos.name!r} has no label but is not marked unfit",
                key="inspect.record.error_unfit",
                name=pos.name,
            )


def record_inspection(ws: Workspace, actor: auth.Actor, result: InspectionResult, photo: Path | bytes) -> int:
    """Store one inspection: the photo content-addressed under records/ (not a dataset image), the record, its
    positions and the audit entry in one transaction. Returns the inspection id."""
    auth.require(actor, "inspect", ws.conn)
    asset = check_asset(result.asset)
    _check_result(ws.conn, result)
    name, data = stations.read_photo(photo, ws.settings.max_file_bytes)
    if hashlib.sha256(data).hexdigest() != result.photo_sha256:
        raise ValidationError(
            "the photo given is not the photo inspected (SHA-256 differs)", key="inspect.record.error_photo"
        )
    ext, size = record_files.check_photo(ws, result.photo_name or name, data, decode=False)
    stored = record_files.store(ws, data, ext, size)
    try:
        with db.transaction(ws.conn) as conn:
            inspection_id = _insert(conn, actor, result, stored, asset)
            audit.record(
                conn,
                actor.name,
                "inspect",
                inspection_id,
                station=result.station.name,
                version=result.station.version,
                asset=asset,
                verdict=result.verdict,
            )
    except BaseException:
        if stored.wrote is not None:
            stored.wrote.unlink(missing_ok=True)
        raise
    return inspection_id


def _insert(
    conn: sqlite3.Connection, actor: auth.Actor, result: InspectionResult, stored: record_files.StoredPhoto, asset: str
) -> int:
    align = result.alignment
    cur = conn.execute(
        "INSERT INTO inspections (station_id, asset, photo_sha256, photo_ext, photo_name, width, height, verdict,"
        " run_id, threshold, align_ok, align_score, align_method, align_matrix, align_reason, inspector, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            result.station.id,
            asset,
            stored.sha256,
            stored.ext,
            _display_name(result.photo_name),
            *stored.size,
            result.verdict,
            result.run_id,
            result.threshold,
            int(bool(align.ok)),
            float(align.score),
            align.method,
            json.dumps([float(v) for v in align.matrix]),
            align.reason,
            actor.name,
            db.now_iso(),
        ),
    )
    conn.executemany(
        "INSERT INTO inspection_positions (inspection_id, position, name, x0, y0, x1, y1, corners, label, defect,"
        " probs, unfit, familiarity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                cur.lastrowid,
                index,
                p.name,
                *(int(v) for v in p.box),
                json.dumps([list(map(float, c)) for c in p.corners]),
                p.label,
                int(bool(p.defect)),
                json.dumps({k: float(v) for k, v in p.probs.items()}),
                p.unfit,
                None if p.familiarity is None else json.dumps(p.familiarity),
            )
            for index, p in enumerate(result.positions)
        ],
    )
    return cur.lastrowid


def _display_name(name: str) -> str:
    """A photo's name as shown: its last path part, control characters replaced, at most 200 characters."""
    last = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    return "".join("?" if ord(c) < 32 or ord(c) == 127 else c for c in last)[:200] or "photo"


def correct(
    ws: Workspace, actor: auth.Actor, inspection_id: int, position_name: str, label: str, note: str = ""
) -> Correction:
    """A person's label for one position of a stored inspection, as a new event (the record itself stays)."""
    auth.require(actor, "relabel", ws.conn)
    label_set.check_label(ws.conn, label)
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ValidationError(
            f"a note may have at most {MAX_NOTE} characters", key="inspect.record.error_note", limit=MAX_NOTE
        )
    with db.transaction(ws.conn) as conn:
        found = get_inspection(conn, inspection_id)
        position = next((p for p in found.positions if p.name == position_name), None)
        if position is None:
            raise ValidationError(
                f"inspection {inspection_id} has no position {str(position_name)[:32]!r}",
                key="inspect.record.error_no_position",
                id=inspection_id,
                name=str(position_name)[:32],
            )
        if position.current_label == label:
            raise ValidationError(
                f"position {position_name!r} is {label!r} already",
                key="inspect.record.error_same",
                name=position_name,
                label=label,
            )
        at = db.now_iso()
        cur = conn.execute(
            "INSERT INTO inspection_events (inspection_id, position, old_label, new_label, note, user, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (inspection_id, position_name, position.current_label, label, note.strip(), actor.name, at),
        )
        audit.record(
            conn,
            actor.name,
            "inspection.correct",
            inspection_id,
            position=position_name,
            old=position.current_label,
            new=label,
            note=note.strip(),
        )
    return Correction(cur.lastrowid, position_name, position.current_label, label, note.strip(), actor.name, at)


# ---- reading ------------------------------------------------------------------------------------------------


def _inspection(row: sqlite3.Row, station: Station, positions: tuple[StoredPosition, ...]) -> Inspection:
    matrix = tuple(json.loads(row["align_matrix"]))
    return Inspection(
        id=row["id"],
        at=row["at"],
        inspector=row["inspector"],
        station_id=row["station_id"],
        station=station.name,
        station_version=station.version,
        asset=row["asset"],
        photo_sha256=row["photo_sha256"],
        photo_ext=row["photo_ext"],
        photo_name=row["photo_name"],
        size=(row["width"], row["height"]),
        verdict=row["verdict"],
        run_id=row["run_id"],
        threshold=row["threshold"],
        alignment=AlignmentRecord(
            bool(row["align_ok"]), row["align_score"], row["align_method"], matrix, row["align_reason"]
        ),  # type: ignore[arg-type]
        positions=positions,
    )


def _positions(conn: sqlite3.Connection, where: str, args: Sequence[object]) -> dict[int, list[StoredPosition]]:
    """The positions (with their corrections, oldest first) of the inspections the filter selects."""
    events: dict[tuple[int, str], list[Correction]] = {}
    for e in conn.execute(f"SELECT * FROM inspection_events WHERE inspection_id IN ({where}) ORDER BY id", args):
        events.setdefault((e["inspection_id"], e["position"]), []).append(
            Correction(e["id"], e["position"], e["old_label"], e["new_label"], e["note"], e["user"], e["at"])
        )
    found: dict[int, list[StoredPosition]] = {}
    sql = f"SELECT * FROM inspection_positions WHERE inspection_id IN ({where}) ORDER BY inspection_id, position"
    for p in conn.execute(sql, args):
        corners = tuple(tuple(c) for c in json.loads(p["corners"]))
        box = (p["x0"], p["y0"], p["x1"], p["y1"])
        found.setdefault(p["inspection_id"], []).append(
            StoredPosition(
                p["name"],
                box,
                corners,
                p["label"],
                bool(p["defect"]),
                json.loads(p["probs"]),
                p["unfit"],
                tuple(events.get((p["inspection_id"], p["name"]), ())),
                json.loads(p["familiarity"]) if p["familiarity"] else None,
            )  # type: ignore[arg-type]
        )
    return found


def get_inspection(conn: sqlite3.Connection, inspection_id: int) -> Inspection:
    row = conn.execute("SELECT * FROM inspections WHERE id = ?", (inspection_id,)).fetchone()
    if row is None:
        raise NotFoundError(
            f"inspection {inspection_id} does not exist", key="inspect.record.error_unknown", id=inspection_id
        )
    station = stations.station_by_id(conn, row["station_id"])
    return _inspection(row, station, tuple(_positions(conn, "?", (inspection_id,)).get(inspection_id, ())))


def parse_since(since: str) -> str:
    """An ISO date or time (UTC when no zone is given) as stored times compare with it."""
    try:
        moment = datetime.fromisoformat(since.strip())
    except (ValueError, AttributeError) as exc:
        raise ValidationError(
            f"{str(since)[:40]!r} is not an ISO date or time (e.g. 2026-12-03 or 2026-12-03T08:00)",
            key="inspect.record.error_since",
            since=str(since)[:40],
        ) from exc
    return db.iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def list_inspections(
    conn: sqlite3.Connection,
    asset: str | None = None,
    station: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[Inspection]:
    """Inspections in time order, filtered by asset, station name and time (since inclusive, until exclusive)."""
    where, args = [], []
    if station:  # every version of the station
        versions = [v.id for v in stations.list_versions(conn, station)]
        where.append(f"station_id IN ({','.join('?' * len(versions)) or 'NULL'})")
        args.extend(versions)
    for clause, value in (
        ("asset = ?", asset),
        ("at >= ?", since and parse_since(since)),
        ("at < ?", until and parse_since(until)),
    ):
        if value:
            where.append(clause)
            args.append(value)
    condition = " WHERE " + " AND ".join(where) if where else ""
    rows = conn.execute("SELECT * FROM inspections" + condition + " ORDER BY at, id", args).fetchall()
    positions = _positions(conn, "SELECT id FROM inspections" + condition, args)
    used = stations.by_ids(conn, {r["station_id"] for r in rows})
    return [_inspection(r, used[r["station_id"]], tuple(positions.get(r["id"], ()))) for r in rows]


def photo_path(ws: Workspace, inspection: Inspection) -> Path:
    return record_files.path(ws, inspection.photo_sha256, inspection.photo_ext)


def inspection_json(inspection: Inspection) -> dict[str, object]:
    """The CLI's and the API's form of a record (the issue's JSON line, plus when, who, model and corrections)."""
    return {
        "inspection_id": inspection.id,
        "photo": inspection.photo_name,
        "photo_sha256": inspection.photo_sha256,
        "station": inspection.station,
        "station_version": inspection.station_version,
        "asset": inspection.asset,
        "verdict": inspection.verdict,
        "current_verdict": inspection.current_verdict,
        "alignment": {
            "ok": inspection.alignment.ok,
            "score": inspection.alignment.score,
            "method": inspection.alignment.method,
        },
        "positions": [
            {
                "name": p.name,
                "label": p.label,
                "defect": p.defect,
                "probs": p.probs,
                "box": list(p.box),
                "unfit": p.unfit,
                "familiarity": p.familiarity,
                "current_label": p.current_label,
                "corrections": len(p.corrections),
            }
            for p in inspection.positions
        ],
        "at": inspection.at,
        "inspector": inspection.inspector,
        "run_id": inspection.run_id,
        "threshold": inspection.threshold,
    }
