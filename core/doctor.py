"""`doctor`: check the workspace and repair what can be repaired without losing anything.

Checks: SQLite integrity; leftovers of interrupted writes (temp files); photo files without a row (moved to
quarantine/, never deleted); rows whose original is missing (reported: only a backup brings them back);
missing or orphaned cache copies and thumbnails (rebuilt from the original / removed: they are derived);
finished runs whose checkpoint is gone (reported); jobs whose worker died (marked interrupted).

Which files no row claims is decided under the files lock (files.files_lock), exclusive: an import holds it
shared from writing a chunk's files until their rows commit, so files of photos still being imported are never
taken for orphans. Young files are left alone as well (SETTLE_S), for writers that do not take the lock.
A damaged database is reported (which file, which check, how to restore), never repaired from and never a crash.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from dataclasses import dataclass, field

from core import audit, auth, db, files, imaging, jobs
from core.errors import RejectedFile, StorageError
from core.workspace import Workspace

_STORED = re.compile(r"^([0-9a-f]{64})(\.[a-z0-9]{1,5})$")
SETTLE_S = 600  # younger files may belong to a write or an import in progress: left alone
LOCK_WAIT_S = 120.0  # how long doctor waits for imports to finish a chunk before it skips the orphan checks
RESTORE_HINT = (
    "restore from the latest backup: stop the app and its workers, then "
    "python -m core --workspace {workspace} restore DIR --force (the damaged workspace is kept aside)"
)


def _settled(path) -> bool:
    try:
        return time.time() - path.stat().st_mtime > SETTLE_S
    except FileNotFoundError:
        return False


@dataclass
class Report:
    integrity: str = "ok"
    temp_files_removed: list[str] = field(default_factory=list)
    orphan_originals: list[str] = field(default_factory=list)  # moved to quarantine/ (or would be)
    missing_originals: list[int] = field(default_factory=list)  # image ids
    rebuilt_cache: list[int] = field(default_factory=list)
    orphan_derived_removed: int = 0
    missing_checkpoints: list[int] = field(default_factory=list)  # run ids
    interrupted_jobs: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # checks not done, and why
    damaged: dict[str, str] = field(default_factory=dict)  # the database: file, check, error, advice

    @property
    def consistent(self) -> bool:
        """Nothing left that a repair could not fix (missing originals and checkpoints need a backup)."""
        return (
            self.integrity == "ok" and not self.damaged and not self.missing_originals and not self.missing_checkpoints
        )

    def to_json(self) -> dict[str, object]:
        return {**self.__dict__, "consistent": self.consistent}


def _walk(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def run(ws: Workspace, actor: auth.Actor, repair: bool = True) -> Report:
    """Check (and with repair=True fix) the workspace; returns what was found and done. A damaged database
    stops it before any repair (it could not tell which files belong to which photo): see Report.damaged."""
    if repair:
        auth.require(actor, "settings")
    report = Report()
    check = "PRAGMA integrity_check"
    try:
        report.integrity = ", ".join(r[0] for r in ws.conn.execute(check)) or "?"
        if report.integrity != "ok":
            _damaged(ws, report, check, report.integrity)
            return report
        check = "reading the photos, runs and jobs"
        _check_files(ws, report, repair)
        if repair:
            report.interrupted_jobs = jobs.reconcile(ws.conn)
            with db.transaction(ws.conn):
                audit.record(
                    ws.conn,
                    actor.name,
                    "doctor",
                    "workspace",
                    **{k: v if isinstance(v, (str, int)) else len(v) for k, v in report.__dict__.items()},
                )
    except (sqlite3.DatabaseError, StorageError) as exc:
        if not _corruption(exc):  # busy, locked, disk full, I/O: an error to retry, not a reason to restore
            if isinstance(exc, StorageError):
                raise
            raise StorageError(
                f"doctor could not use the workspace database {ws.layout.db_path} ({check}): {exc}",
                key="error.workspace_db",
                path=str(ws.layout.db_path),
                reason=str(exc),
            ) from exc
        _damaged(ws, report, check, str(getattr(exc, "detail", {}).get("reason") or exc))
    return report


def _corruption(exc: Exception) -> bool:
    """The database file is damaged: SQLite said SQLITE_CORRUPT* or SQLITE_NOTADB (raw, or as the StorageError
    "error.workspace_corrupt" of db.connect's connections), not an operational error (busy, full, I/O)."""
    if isinstance(exc, StorageError):
        return exc.key == "error.workspace_corrupt"
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or not isinstance(exc, sqlite3.OperationalError)


def _damaged(ws: Workspace, report: Report, check: str, error: str) -> None:
    report.integrity = error[:2000]
    report.damaged = {
        "file": str(ws.layout.db_path),
        "check": check,
        "error": error[:2000],
        "advice": RESTORE_HINT.format(workspace=ws.layout.root),
    }


def _check_files(ws: Workspace, report: Report, repair: bool) -> None:
    layout = ws.layout
    with files.files_lock(layout.root, exclusive=True, wait_s=LOCK_WAIT_S) as held:
        rows = _rows(ws)
        if held:  # no import is between its files and its rows now
            _leftovers(ws, report, repair)
            _orphans(ws, report, rows, repair)
        else:
            report.skipped.append(f"temp and orphan files: an import kept the files lock for {LOCK_WAIT_S:.0f} s")
    for sha, (image_id, ext) in rows.items():
        original = layout.original(sha, ext)
        if not original.exists():
            report.missing_originals.append(image_id)
            continue
        if not layout.cached(sha).exists() or not layout.thumb(sha).exists():
            report.rebuilt_cache.append(image_id)
            if repair:
                _rebuild(ws, sha, original.read_bytes())
    for row in ws.conn.execute("SELECT id, checkpoint FROM runs WHERE checkpoint IS NOT NULL"):
        if not (layout.root / row["checkpoint"]).exists():
            report.missing_checkpoints.append(row["id"])


def _leftovers(ws: Workspace, report: Report, repair: bool) -> None:
    """Temp files of interrupted writes (young ones may belong to a write in progress elsewhere)."""
    root = ws.layout.root
    for path in _walk(root):
        if (path.name.startswith(files.TMP_PREFIX) or ".export-" in str(path)) and _settled(path):
            report.temp_files_removed.append(str(path.relative_to(root)))
            if repair:
                path.unlink(missing_ok=True)


def _rows(ws: Workspace) -> dict[str, tuple[int, str]]:
    return {r["sha256"]: (r["id"], r["ext"]) for r in ws.conn.execute("SELECT id, sha256, ext FROM images")}


def _orphans(ws: Workspace, report: Report, rows: dict[str, tuple[int, str]], repair: bool) -> None:
    """Originals no row claims go to quarantine/; cache copies and thumbnails no row claims are removed."""
    layout = ws.layout
    for path in _walk(layout.originals):
        match = _STORED.match(path.name)
        if path.name.startswith(files.TMP_PREFIX):
            continue
        if (match is None or match.group(1) not in rows) and _settled(path):
            report.orphan_originals.append(str(path.relative_to(layout.root)))
            if repair:
                target = layout.root / "quarantine" / path.relative_to(layout.originals)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
    for folder in (layout.cache / "images", layout.cache / "thumbs"):
        for path in _walk(folder):
            if (
                path.name.removesuffix(".jpg") not in rows
                and not path.name.startswith(files.TMP_PREFIX)
                and _settled(path)
            ):
                report.orphan_derived_removed += 1
                if repair:
                    path.unlink(missing_ok=True)


def rebuild_derived(ws: Workspace, sha: str, ext: str) -> bool:
    """Write a stored photo's cache copy and thumbnail again from its original (for a page that found one
    missing); False when the original is gone or the current limits refuse it."""
    original = ws.layout.original(sha, ext)
    if not original.exists():
        return False
    _rebuild(ws, sha, original.read_bytes())
    return ws.layout.thumb(sha).exists() and ws.layout.cached(sha).exists()


def _rebuild(ws: Workspace, sha: str, data: bytes) -> None:
    try:
        decoded = imaging.decode(data, ws.settings.max_pixels, ws.settings.cache_px)
    except RejectedFile:
        return  # an original the current limits refuse stays without a copy; it was imported under others
    derived = imaging.derive(decoded.image, ws.settings.thumb_px)
    files.write_atomic(ws.layout.cached(sha), derived.cached_jpeg)
    files.write_atomic(ws.layout.thumb(sha), derived.thumb_jpeg)
