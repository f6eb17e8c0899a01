"""`backup DIR` while the app runs, and `restore DIR` into a stopped workspace.

The database is copied with SQLite's online backup (a consistent snapshot, writers are not blocked for
long); then exactly the files that snapshot refers to: the originals of its photos (content-addressed and
never modified, so copying them later is safe) and the checkpoints of its runs. Caches are not copied:
`doctor` rebuilds them. Both commands build in a temporary folder beside the target and rename it into
place, so a target is either absent or complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import uuid
from pathlib import Path
from typing import NotRequired, TypedDict

from core import audit, auth, db, files, inspection_report, record_files
from core.errors import StorageError, ValidationError
from core.workspace import Workspace

MANIFEST = "boltscope-backup.json"


class Manifest(TypedDict):
    """What a backup says about itself (its manifest file)."""

    created_at: str
    created_by: str
    schema_version: int
    photos: int
    runs: int  # run folders copied (their checkpoints)
    source: str  # the workspace it was taken from
    audited: NotRequired[bool]  # False: from a read-only workspace, no audit entry; absent in older backups


class BackupDone(Manifest):
    """backup's answer, which `backup` prints."""

    dir: str


class RestoreDone(Manifest):
    """restore's answer, which `restore` prints (the manifest as the backup wrote it)."""

    workspace: str
    kept_aside: str | None  # where the workspace it replaced was kept


def backup(ws: Workspace, actor: auth.Actor, dest: str | os.PathLike[str]) -> BackupDone:
    auth.require(actor, "settings")
    target = Path(dest).expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValidationError(f"backup folder {target} exists and is not empty; choose a new folder")
    if ws.layout.root.resolve() in (target, *target.parents):
        raise ValidationError("the backup folder must lie outside the workspace")
    _check_room(ws, target)
    try:
        with files.staged_dir(target, "backup to") as staging:
            manifest = _build(ws, actor, staging)
    except (sqlite3.Error, StorageError) as exc:  # a full or failing disk: one clear line, no half backup
        if files.is_disk_full(exc):
            raise StorageError(
                f"the backup to {target} failed: its disk is full (No space left on device); "
                "nothing was left there: choose a disk with more room",
                key="dataset.error_backup_full",
                path=str(target),
            ) from exc
        reason = str(exc.detail.get("reason") if isinstance(exc, StorageError) and exc.detail.get("reason") else exc)
        raise StorageError(
            f"the backup to {target} failed: {reason}; nothing was left there",
            key="dataset.error_backup_failed",
            path=str(target),
            reason=reason,
        ) from exc
    if not ws.read_only:  # a read-only workspace cannot keep an audit entry; the manifest says
        audit.record_now(ws.conn, actor.name, "backup", str(target), photos=manifest["photos"], runs=manifest["runs"])
    return BackupDone(dir=str(target), **manifest)


def _build(ws: Workspace, actor: auth.Actor, staging: Path) -> Manifest:
    """The database snapshot, then the originals, inspection records and checkpoints it refers to, then the
    manifest."""
    with contextlib.closing(sqlite3.connect(staging / "boltscope.db")) as copy:
        ws.conn.backup(copy)
        photos = copy.execute("SELECT sha256, ext FROM images").fetchall()
        checkpoints = [r[0] for r in copy.execute("SELECT checkpoint FROM runs WHERE checkpoint IS NOT NULL")]
        records = copy.execute(
            "SELECT reference_sha256, reference_ext FROM stations UNION SELECT photo_sha256, photo_ext FROM inspections"
        ).fetchall()
        inspected = [r[0] for r in copy.execute("SELECT id FROM inspections")]
        version = copy.execute("PRAGMA user_version").fetchone()[0]
    for sha, ext in photos:
        _copy(ws.layout.original(sha, ext), staging / ws.layout.original(sha, ext).relative_to(ws.layout.root))
    _copy_records(ws, staging, records, inspected)
    copied_runs = 0
    for rel in checkpoints:
        run_dir = (ws.layout.root / rel).parent
        if run_dir.is_dir() and run_dir.parent == ws.layout.runs:
            shutil.copytree(run_dir, staging / run_dir.relative_to(ws.layout.root), dirs_exist_ok=True)
            copied_runs += 1
    manifest = Manifest(
        created_at=db.now_iso(),
        created_by=actor.name,
        schema_version=version,
        photos=len(photos),
        runs=copied_runs,
        source=str(ws.layout.root),
        audited=not ws.read_only,
    )
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def _copy_records(ws: Workspace, staging: Path, records: list[tuple[str, str]], inspected: list[int]) -> None:
    """The inspection record's files the snapshot names: station references and inspected photos (content-
    addressed, never changed, so copying them after the snapshot is safe), and each inspection's kept views."""
    for sha, ext in records:
        src = record_files.path(ws, sha, ext)
        _copy(src, staging / src.relative_to(ws.layout.root))
    for inspection_id in inspected:
        views = inspection_report.views_dir(ws, inspection_id)
        if views.is_dir():
            shutil.copytree(views, staging / views.relative_to(ws.layout.root), dirs_exist_ok=True)


def needed_bytes(ws: Workspace) -> int:
    """About what a backup writes: the database, the originals, the inspection records and the run folders."""
    total = 0
    for folder in (ws.layout.originals, ws.layout.root / "records", ws.layout.runs):
        total += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0
    for name in (ws.layout.db_path.name, ws.layout.db_path.name + "-wal"):
        with contextlib.suppress(OSError):
            total += (ws.layout.root / name).stat().st_size
    return total


def _check_room(ws: Workspace, target: Path) -> None:
    """Refuse up front a backup that cannot fit on its disk (the nearest existing folder of target says)."""
    where = next((p for p in (target, *target.parents) if p.exists()), target)
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return
    need = needed_bytes(ws)
    if need > free:
        raise StorageError(
            f"the backup needs about {need / 2**20:.1f} MB but only {free / 2**20:.1f} MB are free "
            f"at {where}; choose a disk with more room",
            key="dataset.error_backup_space",
            need_mb=f"{need / 2**20:.1f}",
            free_mb=f"{free / 2**20:.1f}",
            path=str(where),
        )


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def restore(
    source: str | os.PathLike[str], workspace: str | os.PathLike[str], actor: auth.Actor, force: bool = False
) -> RestoreDone:
    """Bring a backup back into `workspace` (stop the app and workers first). An existing workspace is kept
    beside it as `<name>.before-restore-<id>` when force is given, else refused."""
    auth.require(actor, "restore")
    src = Path(source).expanduser().resolve()
    manifest_path = src / MANIFEST
    if not manifest_path.is_file() or not (src / "boltscope.db").is_file():
        raise ValidationError(f"{src} is not a boltscope backup (no {MANIFEST} and boltscope.db)")
    with sqlite3.connect(f"file:{src / 'boltscope.db'}?mode=ro", uri=True) as check:
        verdict = check.execute("PRAGMA integrity_check").fetchone()[0]
    if verdict != "ok":
        raise ValidationError(f"the backup's database is damaged ({verdict}); use another backup")
    target = Path(workspace).expanduser().resolve()
    kept = None
    if target.exists() and any(target.iterdir()):
        if not force:
            raise ValidationError(f"workspace {target} is not empty; restore with --force to keep it aside")
        kept = target.with_name(f"{target.name}.before-restore-{uuid.uuid4().hex[:8]}")
    with files.staged_dir(target, "restore into") as staging:
        shutil.copytree(src, staging, ignore=shutil.ignore_patterns(MANIFEST), dirs_exist_ok=True)
        if kept is not None:
            os.replace(target, kept)
    return RestoreDone(
        workspace=str(target), kept_aside=str(kept) if kept else None, **json.loads(manifest_path.read_text())
    )
