"""`doctor`: check the workspace and repair what can be repaired without losing anything.

Checks: SQLite integrity; leftovers of interrupted writes (temp files); photo files without a row (moved to
quarantine/, never deleted); rows whose original is missing (reported: only a backup brings them back);
missing or orphaned cache copies and thumbnails (rebuilt from the original / removed: they are derived);
finished runs whose checkpoint is gone (reported); jobs whose worker died (marked interrupted).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field

from core import audit, auth, db, files, imaging, jobs
from core.errors import RejectedFile
from core.workspace import Workspace

_STORED = re.compile(r"^([0-9a-f]{64})(\.[a-z0-9]{1,5})$")
SETTLE_S = 600  # younger files may belong to a write or an import in progress: left alone


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

    @property
    def consistent(self) -> bool:
        """Nothing left that a repair could not fix (missing originals and checkpoints need a backup)."""
        return self.integrity == "ok" and not self.missing_originals and not self.missing_checkpoints

    def to_json(self) -> dict[str, object]:
        return {**self.__dict__, "consistent": self.consistent}


def _walk(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def run(ws: Workspace, actor: auth.Actor, repair: bool = True) -> Report:
    """Check (and with repair=True fix) the workspace; returns what was found and done."""
    if repair:
        auth.require(actor, "settings")
    report = Report()
    report.integrity = ", ".join(r[0] for r in ws.conn.execute("PRAGMA integrity_check")) or "?"
    layout = ws.layout
    for path in _walk(layout.root):
        if (path.name.startswith(files.TMP_PREFIX) or ".export-" in str(path)) and _settled(path):
            report.temp_files_removed.append(str(path.relative_to(layout.root)))
            if repair:
                path.unlink(missing_ok=True)
    rows = {r["sha256"]: (r["id"], r["ext"]) for r in ws.conn.execute("SELECT id, sha256, ext FROM images")}
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
    for sha, (image_id, ext) in rows.items():
        original = layout.original(sha, ext)
        if not original.exists():
            report.missing_originals.append(image_id)
            continue
        if not layout.cached(sha).exists() or not layout.thumb(sha).exists():
            report.rebuilt_cache.append(image_id)
            if repair:
                _rebuild(ws, sha, original.read_bytes())
    for folder, suffix in ((layout.cache / "images", ".jpg"), (layout.cache / "thumbs", ".jpg")):
        for path in _walk(folder):
            if path.name.removesuffix(suffix) not in rows and not path.name.startswith(files.TMP_PREFIX):
                report.orphan_derived_removed += 1
                if repair:
                    path.unlink(missing_ok=True)
    for row in ws.conn.execute("SELECT id, checkpoint FROM runs WHERE checkpoint IS NOT NULL"):
        if not (layout.root / row["checkpoint"]).exists():
            report.missing_checkpoints.append(row["id"])
    if repair:
        report.interrupted_jobs = jobs.reconcile(ws.conn)
        with db.transaction(ws.conn):
            audit.record(ws.conn, actor.name, "doctor", "workspace", **{k: v if isinstance(v, (str, int)) else len(v)
                                                                         for k, v in report.__dict__.items()})
    return report


def _rebuild(ws: Workspace, sha: str, data: bytes) -> None:
    try:
        decoded = imaging.decode(data, ws.settings.max_pixels, ws.settings.cache_px)
    except RejectedFile:
        return  # an original the current limits refuse stays without a copy; it was imported under others
    derived = imaging.derive(decoded.image, ws.settings.thumb_px)
    files.write_atomic(ws.layout.cached(sha), derived.cached_jpeg)
    files.write_atomic(ws.layout.thumb(sha), derived.thumb_jpeg)

