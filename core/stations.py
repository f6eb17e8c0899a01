"""Stations: named inspection setups (a reference photo, the bolt positions on it, the model), versioned.

A change never rewrites a station: it adds a version row (triggers refuse UPDATE and DELETE), so an inspection
keeps pointing at the very setup it used. Reference photos are stored content-addressed (core.record_files).
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core import audit, auth, db, imaging, record_files, runs
from core.align import Box  # x0, y0, x1, y1 in pixels, x1 > x0, y1 > y0
from core.errors import NotFoundError, ValidationError
from core.workspace import Workspace

NAME_RE = re.compile(r"[\w.-]{1,64}")  # station names: fullmatch (a trailing newline is not let through)
POSITION_RE = re.compile(r"[\w.-]{1,32}")
MAX_POSITIONS = 200
CHANGES = ("reference", "positions", "run_id", "margin")  # what update_station may change


@dataclass(frozen=True)
class Position:
    name: str
    box: Box  # reference px


@dataclass(frozen=True)
class Station:
    id: int  # the row of this version
    name: str
    version: int
    reference_sha256: str
    reference_size: tuple[int, int]  # (width, height), upright
    positions: tuple[Position, ...]
    run_id: int | None  # None: the production model at the time of inspection
    margin: float  # crop margin, fraction of the box size per side (0 = the box itself)
    created_by: str
    created_at: str
    reference_ext: str = ".jpg"


def read_photo(source: Path | bytes, max_bytes: int) -> tuple[str, bytes]:
    """(name, bytes) of a photo given as a path or as bytes; unreadable or too big is a ValidationError."""
    if isinstance(source, bytes | bytearray):
        data, name = bytes(source), "upload"
    else:
        file, name = Path(source), Path(source).name
        try:
            if file.stat().st_size > max_bytes:
                raise _refused(name, "reject.too_big", size_mb=file.stat().st_size / 2**20, limit_mb=max_bytes >> 20)
            data = file.read_bytes()
        except OSError as exc:
            raise _refused(name, "reject.unreadable", detail=exc.strerror or str(exc)) from exc
    if len(data) > max_bytes:
        raise _refused(name, "reject.too_big", size_mb=len(data) / 2**20, limit_mb=max_bytes >> 20)
    return name, data


def _refused(name: str, key: str, **detail: object) -> ValidationError:
    """A refused photo as bad input (the CLI's exit 2), keyed by the import's reason, so it reads translated."""
    reason = imaging.reject(key, **detail)
    return ValidationError(f"photo {name!r} refused: {reason}", key=key, **detail)


# ---- validation ---------------------------------------------------------------------------------------------


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        shown = ascii(str(name)[:64])[1:-1]
        raise ValidationError(
            f"station name '{shown}' is not valid: 1-64 letters, digits, '.', '_' or '-'",
            key="station.error_name",
            name=shown,
        )
    return name


def check_margin(margin: object) -> float:
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 <= margin <= 1 or math.isnan(margin):
        raise ValidationError(
            f"margin {margin!r} must be a number from 0 to 1", key="station.error_margin", margin=str(margin)[:20]
        )
    return float(margin)


def check_run(conn: sqlite3.Connection, run_id: object) -> int | None:
    """None (the production model at inspection time) or a finished run."""
    if run_id is None:
        return None
    if isinstance(run_id, bool) or not isinstance(run_id, int):
        raise ValidationError(f"run {run_id!r} is not a run id", key="station.error_run", run=str(run_id)[:20])
    if not runs.get_run(conn, run_id).finished:
        raise ValidationError(
            f"run {run_id} has not finished; a station needs a finished run", key="station.error_run", run=run_id
        )
    return run_id


def check_positions(positions: Sequence[Position], size: tuple[int, int]) -> tuple[Position, ...]:
    """At least one position, unique names, integer boxes with x0 < x1 and y0 < y1 inside the reference photo."""
    if not positions:
        raise ValidationError("a station needs at least one position", key="station.error_no_positions")
    if len(positions) > MAX_POSITIONS:
        raise ValidationError(
            f"{len(positions)} positions; a station may have at most {MAX_POSITIONS}",
            key="station.error_too_many",
            n=len(positions),
            limit=MAX_POSITIONS,
        )
    seen: set[str] = set()
    for pos in positions:
        if not isinstance(pos.name, str) or not POSITION_RE.fullmatch(pos.name):
            shown = ascii(str(pos.name)[:32])[1:-1]
            raise ValidationError(
                f"position name '{shown}' is not valid: 1-32 letters, digits, '.', '_' or '-'",
                key="station.error_position_name",
                name=shown,
            )
        if pos.name in seen:
            raise ValidationError(
                f"position {pos.name!r} is named twice", key="station.error_position_twice", name=pos.name
            )
        seen.add(pos.name)
        _check_box(pos, size)
    return tuple(Position(p.name, tuple(p.box)) for p in positions)  # type: ignore[misc]


def _check_box(pos: Position, size: tuple[int, int]) -> None:
    box = pos.box
    whole = isinstance(box, tuple | list) and len(box) == 4
    if not whole or not all(isinstance(v, int) and not isinstance(v, bool) for v in box):
        raise ValidationError(
            f"position {pos.name!r}: the box must be four whole numbers [x0, y0, x1, y1]",
            key="station.error_box",
            name=pos.name,
        )
    x0, y0, x1, y1 = box
    if not (x0 < x1 and y0 < y1):
        raise ValidationError(
            f"position {pos.name!r}: box {list(box)} needs x0 < x1 and y0 < y1",
            key="station.error_box_order",
            name=pos.name,
            box=str(list(box)),
        )
    if x0 < 0 or y0 < 0 or x1 > size[0] or y1 > size[1]:
        raise ValidationError(
            f"position {pos.name!r}: box {list(box)} lies outside the {size[0]}×{size[1]} reference photo",
            key="station.error_box_outside",
            name=pos.name,
            box=str(list(box)),
            width=size[0],
            height=size[1],
        )


def parse_positions(text: str) -> list[Position]:
    """The CLI's FILE.json: [{"name": "P1", "box": [x0, y0, x1, y1]}, …] (checked against a photo later)."""
    try:
        items = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValidationError(
            f"the positions are not JSON: {exc}", key="station.error_json", detail=str(exc)[:120]
        ) from exc
    if not isinstance(items, list) or not all(isinstance(i, dict) and set(i) == {"name", "box"} for i in items):
        raise ValidationError(
            'the positions must be a list of {"name": "P1", "box": [x0, y0, x1, y1]}', key="station.error_json_shape"
        )
    return [Position(i["name"], tuple(i["box"]) if isinstance(i["box"], list) else i["box"]) for i in items]


# ---- reading ------------------------------------------------------------------------------------------------


def _station(row: sqlite3.Row) -> Station:
    return Station(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        reference_sha256=row["reference_sha256"],
        reference_size=(row["reference_width"], row["reference_height"]),
        positions=tuple(Position(p["name"], tuple(p["box"])) for p in json.loads(row["positions"])),
        run_id=row["run_id"],
        margin=row["margin"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        reference_ext=row["reference_ext"],
    )


def get_station(conn: sqlite3.Connection, name: str, version: int | None = None) -> Station:
    """The newest version (or the one asked for); NotFoundError naming the station."""
    sql = "SELECT * FROM stations WHERE name = ?" + (" AND version = ?" if version is not None else "")
    args = (name,) if version is None else (name, version)
    row = conn.execute(sql + " ORDER BY version DESC LIMIT 1", args).fetchone()
    if row is None:
        raise NotFoundError(f"station {name!r} does not exist", key="station.error_unknown", name=str(name)[:64])
    return _station(row)


def station_by_id(conn: sqlite3.Connection, station_id: int) -> Station:
    """One version by its row id (what an inspection points at)."""
    row = conn.execute("SELECT * FROM stations WHERE id = ?", (station_id,)).fetchone()
    if row is None:
        raise NotFoundError(
            f"station version {station_id} does not exist", key="station.error_unknown", name=station_id
        )
    return _station(row)


def by_ids(conn: sqlite3.Connection, station_ids: Iterable[int]) -> dict[int, Station]:
    """Versions by their row ids (the ones a list of inspections used)."""
    ids = sorted(set(station_ids))
    rows = conn.execute(f"SELECT * FROM stations WHERE id IN ({','.join('?' * len(ids))})", ids) if ids else []
    return {row["id"]: _station(row) for row in rows}


def list_stations(conn: sqlite3.Connection) -> list[Station]:
    """The newest version of every station, by name."""
    rows = conn.execute(
        "SELECT * FROM stations s WHERE version = (SELECT MAX(version) FROM stations WHERE name = s.name) ORDER BY name"
    )
    return [_station(r) for r in rows]


def list_versions(conn: sqlite3.Connection, name: str) -> list[Station]:
    """Every version of one station, oldest first."""
    return [_station(r) for r in conn.execute("SELECT * FROM stations WHERE name = ? ORDER BY version", (name,))]


def reference_path(ws: Workspace, station: Station) -> Path:
    return record_files.path(ws, station.reference_sha256, station.reference_ext)


def station_json(station: Station) -> dict[str, object]:
    """The CLI's and the API's form of a station."""
    return {
        "id": station.id,
        "name": station.name,
        "version": station.version,
        "reference_sha256": station.reference_sha256,
        "reference_size": list(station.reference_size),
        "positions": [{"name": p.name, "box": list(p.box)} for p in station.positions],
        "run_id": station.run_id,
        "margin": station.margin,
        "created_by": station.created_by,
        "created_at": station.created_at,
    }


# ---- writing ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Draft:
    name: str
    photo: record_files.StoredPhoto
    positions: tuple[Position, ...]
    run_id: int | None
    margin: float


def add_station(
    ws: Workspace,
    actor: auth.Actor,
    name: str,
    reference: Path | bytes,
    positions: Sequence[Position],
    run_id: int | None = None,
    margin: float = 0.0,
) -> Station:
    """A new station (version 1). Everything is checked before anything is stored."""
    auth.require(actor, "station", ws.conn)
    check_name(name)
    margin, run_id = check_margin(margin), check_run(ws.conn, run_id)
    if ws.conn.execute("SELECT 1 FROM stations WHERE name = ?", (name,)).fetchone():
        raise ValidationError(f"station {name!r} exists already", key="station.error_exists", name=name)
    return _save(ws, actor, None, _prepare(ws, name, reference, positions, run_id, margin))


def update_station(ws: Workspace, actor: auth.Actor, name: str, **changes: object) -> Station:
    """A new version with `changes` (reference, positions, run_id, margin); earlier versions are kept."""
    auth.require(actor, "station", ws.conn)
    current = get_station(ws.conn, name)
    unknown = sorted(set(changes) - set(CHANGES))
    if unknown or not changes:
        raise ValidationError(
            f"a station update changes some of {', '.join(CHANGES)}; got {', '.join(unknown) or 'nothing'}",
            key="station.error_changes",
            valid=", ".join(CHANGES),
        )
    margin = check_margin(changes.get("margin", current.margin))
    run_id = check_run(ws.conn, changes["run_id"] if "run_id" in changes else current.run_id)
    positions = changes.get("positions", current.positions)
    reference = changes["reference"] if "reference" in changes else reference_path(ws, current)
    draft = _prepare(ws, name, reference, positions, run_id, margin)  # type: ignore[arg-type]
    same = (draft.photo.sha256, draft.positions, run_id, margin) == (
        current.reference_sha256,
        current.positions,
        current.run_id,
        current.margin,
    )
    if same:
        raise ValidationError(f"station {name!r}: nothing changed", key="station.error_unchanged", name=name)
    return _save(ws, actor, current, draft)


def _prepare(
    ws: Workspace,
    name: str,
    reference: Path | bytes,
    positions: Sequence[Position],
    run_id: int | None,
    margin: float,
) -> _Draft:
    """The reference checked (decode guards) and its positions against its size, then the file written."""
    photo_name, data = read_photo(reference, ws.settings.max_file_bytes)
    ext, size = record_files.check_photo(ws, photo_name, data)
    checked = check_positions(positions, size)
    return _Draft(name, record_files.store(ws, data, ext, size), checked, run_id, margin)


def _save(ws: Workspace, actor: auth.Actor, current: Station | None, draft: _Draft) -> Station:
    """The version row and its audit entry in one transaction; a file this call wrote goes if they fail."""
    try:
        with db.transaction(ws.conn) as conn:
            version = _next_version(conn, current, draft.name)
            cur = conn.execute(
                "INSERT INTO stations (name, version, reference_sha256, reference_ext, reference_width,"
                " reference_height, positions, run_id, margin, created_by, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    draft.name,
                    version,
                    draft.photo.sha256,
                    draft.photo.ext,
                    *draft.photo.size,
                    json.dumps([{"name": p.name, "box": list(p.box)} for p in draft.positions]),
                    draft.run_id,
                    draft.margin,
                    actor.name,
                    db.now_iso(),
                ),
            )
            audit.record(
                conn,
                actor.name,
                "station.add" if current is None else "station.update",
                draft.name,
                version=version,
                positions=len(draft.positions),
                run_id=draft.run_id,
                margin=draft.margin,
                reference=draft.photo.sha256,
            )
    except BaseException:
        if draft.photo.wrote is not None:
            draft.photo.wrote.unlink(missing_ok=True)
        raise
    return station_by_id(ws.conn, cur.lastrowid)


def _next_version(conn: sqlite3.Connection, current: Station | None, name: str) -> int:
    """The version a save makes, checked inside its transaction: another writer may have got there first."""
    version = conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM stations WHERE name = ?", (name,)).fetchone()[0]
    if current is None and version > 1:
        raise ValidationError(f"station {name!r} exists already", key="station.error_exists", name=name)
    if current is not None and version != current.version + 1:
        raise ValidationError(
            f"station {name!r} was changed meanwhile; open it again", key="station.error_changed_meanwhile", name=name
        )
    return version
