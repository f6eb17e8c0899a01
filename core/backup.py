"""`backup DIR` while the app runs, and `restore DIR` into a stopped workspace.

The database is copied with SQLite's online backup (a consistent snapshot, writers are not blocked for
long); then exactly the files that snapshot refers to: the originals of its photos (content-addressed and
never modified, so copying them later is safe) and the checkpoints of its runs. Caches are not copied:
`doctor` rebuilds them. Both commands build in a temporary folder beside the target and rename it into
place, so a target is either absent or complete.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import uuid
from pathlib import Path

from core import audit, auth, db, files
from core.errors import ValidationError
from core.workspace import Workspace

MANIFEST = "boltscope-backup.json"


def backup(ws: Workspace, actor: auth.Actor, dest: str | os.PathLike[str]) -> dict[str, object]:
    auth.require(actor, "settings")
    target = Path(dest).expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValidationError(f"backup folder {target} exists and is not empty; choose a new folder")
    if ws.layout.root.resolve() in (target, *target.parents):
        raise ValidationError("the backup folder must lie outside the workspace")
    with files.staged_dir(target, "backup to") as staging:
        with sqlite3.connect(staging / "boltscope.db") as copy:
            ws.conn.backup(copy)
        with sqlite3.connect(staging / "boltscope.db") as copy:
            photos = copy.execute("SELECT sha256, ext FROM images").fetchall()
            checkpoints = [r[0] for r in copy.execute("SELECT checkpoint FROM runs WHERE checkpoint IS NOT NULL")]
            version = copy.execute("PRAGMA user_version").fetchone()[0]
        for sha, ext in photos:
            _copy(ws.layout.original(sha, ext), staging / ws.layout.original(sha, ext).relative_to(ws.layout.root))
        copied_runs = 0
        for rel in checkpoints:
            run_dir = (ws.layout.root / rel).parent
            if run_dir.is_dir() and run_dir.parent == ws.layout.runs:
                shutil.copytree(run_dir, staging / run_dir.relative_to(ws.layout.root), dirs_exist_ok=True)
                copied_runs += 1
        manifest = {"created_at": db.now_iso(), "created_by": actor.name, "schema_version": version,
                    "photos": len(photos), "runs": copied_runs, "source": str(ws.layout.root)}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
    audit.record_now(ws.conn, actor.name, "backup", str(target), photos=len(photos), runs=copied_runs)
    return {"dir": str(target), **manifest}


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def restore(source: str | os.PathLike[str], workspace: str | os.PathLike[str], actor: auth.Actor,
            force: bool = False) -> dict[str, object]:
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
    return {"workspace": str(target), "kept_aside": str(kept) if kept else None,
            **json.loads(manifest_path.read_text())}
