"""The labelled dataset exported as an ImageFolder tree (split/label/file), to a folder or as one zip."""

from __future__ import annotations

import os
import re
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

from core import audit, auth, db, files, sources, store
from core.errors import StorageError, ValidationError
from core.workspace import Workspace

_UNSAFE_CHARS = re.compile(r"[^\w.\-]+", re.UNICODE)


def safe_filename(name: str) -> str:
    """A file name that is safe on every OS: word characters (Korean too), '.', '-' and '_' only."""
    stem, ext = os.path.splitext(sources.display_name(name))
    stem = _UNSAFE_CHARS.sub("_", stem).strip("._")[:80] or "photo"
    return f"{stem}{_UNSAFE_CHARS.sub('', ext)[:6].lower()}"


def _export_plan(ws: Workspace) -> Iterator[tuple[Path, str]]:
    """(stored original, relative destination) for every labelled photo not in the trash."""
    for image in store.all_images(ws.conn):
        if image.label is None or image.split is None:
            continue
        stem = os.path.splitext(safe_filename(image.display_name))[0]
        rel = f"{image.split}/{image.label}/{image.id:06d}_{stem}{image.ext}"
        yield ws.layout.original(image.sha256, image.ext), rel


def export_folder(ws: Workspace, actor: auth.Actor, dest: str | os.PathLike[str]) -> dict[str, int]:
    """Write split/label/file under dest (which must not exist or be empty), all or nothing."""
    auth.require(actor, "export")
    target = Path(dest).resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValidationError(f"export folder {target} exists and is not empty; choose a new folder")
    counts: dict[str, int] = {}
    with files.staged_dir(target, "export to") as staging:
        for src, rel in _export_plan(ws):
            out = staging / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, out)
            counts[rel.split("/")[0]] = counts.get(rel.split("/")[0], 0) + 1
    audit.record_now(ws.conn, actor.name, "export", "dataset folder", dest=str(target), counts=counts)
    return counts


def export_zip(ws: Workspace, actor: auth.Actor) -> Path:
    """The ImageFolder tree as one zip in the workspace's exports folder (atomic); returns its path."""
    auth.require(actor, "export")
    ws.layout.exports.mkdir(parents=True, exist_ok=True)
    stamp = db.now_iso()[:19].replace(":", "")
    final = ws.layout.exports / f"boltscope-imagefolder-{stamp}-{uuid.uuid4().hex[:6]}.zip"
    tmp = final.with_name(files.TMP_PREFIX + final.name)
    plan = list(_export_plan(ws))
    files.check_room(
        ws.layout.root, sum(src.stat().st_size for src, _ in plan if src.exists()), ws.settings.min_free_mb
    )  # the zip lands in the workspace: keep the floor free
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for src, rel in plan:
                archive.write(src, rel)  # JPEGs do not compress: store them
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(
            f"cannot write the export zip: {exc.strerror or exc}",
            key="dataset.error_export",
            detail=str(exc.strerror or exc),
        ) from exc
    audit.record_now(ws.conn, actor.name, "export", "dataset zip", file=final.name)
    return final
