"""Import photos (hash, dedup, decode, derive, store) with a per-file outcome. Files are written before their
rows, so a crash leaves no visible half (the export as an ImageFolder tree: core.dataset_export)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from core import auth, files, imaging, label_set, sources, splits, store
from core.errors import RejectedFile, StorageError, ValidationError
from core.i18n import t
from core.workspace import Workspace

CHUNK = 16  # photos decoded in parallel and committed in one transaction


@dataclass(frozen=True)
class FileOutcome:
    file: str
    status: str  # imported | duplicate | rejected | skipped (hidden files)
    image_id: int | None = None
    key: str | None = None  # translation key of the reason (duplicates and refusals)
    detail: dict[str, object] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return t(self.key, "en", **self.detail) if self.key else ""


@dataclass
class ImportReport:
    outcomes: list[FileOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for item in self.outcomes if item.status == status)

    @property
    def imported_ids(self) -> list[int]:
        return [o.image_id for o in self.outcomes if o.status == "imported" and o.image_id is not None]

    def to_json(self) -> dict[str, object]:
        """The CLI contract: imported, duplicates, rejected [{file, error}]; skipped [{file, reason}] when any."""
        skipped = [{"file": o.file, "reason": o.message} for o in self.outcomes if o.status == "skipped"]
        return {
            "imported": self.count("imported"),
            "duplicates": self.count("duplicate"),
            "rejected": [{"file": o.file, "error": o.message} for o in self.outcomes if o.status == "rejected"],
            **({"skipped": skipped} if skipped else {}),
        }


def import_paths(
    ws: Workspace,
    actor: auth.Actor,
    paths: Iterable[str | os.PathLike[str]],
    label: str | None = None,
    split: str | None = None,
    image_source: str = "import",
) -> ImportReport:
    """Import files, folders (class subfolders as labels) and zip archives from disk."""
    return import_sources(ws, actor, sources.iter_paths(paths, ws.settings), label, split, image_source, "import")


def import_uploads(
    ws: Workspace,
    actor: auth.Actor,
    uploads: Iterable[tuple[str, bytes]],
    label: str | None = None,
    image_source: str = "upload",
    event_source: str = "upload",
    split: str | None = None,
) -> ImportReport:
    """Import browser uploads given as (file name, bytes); zips are opened, folders kept as labels.
    A split given here is kept (locked), as with `import --split`: a hand-picked test set stays whole."""
    return import_sources(
        ws, actor, sources.iter_uploads(uploads, ws.settings), label, split, image_source, event_source
    )


@dataclass(frozen=True)
class _Batch:
    """What holds for every file of one import call (labels checked once, here), and what its chunks share."""

    label: str | None
    split: str | None
    image_source: str
    event_source: str
    folder_labels: dict[str, str]  # every value a configured label
    book: splits.Book = field(default_factory=splits.Book)  # split counts kept across chunks (see splits.Book)


def import_sources(
    ws: Workspace,
    actor: auth.Actor,
    items: Iterable[sources.Source | sources.Refusal | sources.Skip],
    label: str | None,
    split: str | None,
    image_source: str,
    event_source: str,
) -> ImportReport:
    auth.require(actor, "upload")
    label_set.check_label(ws.conn, label)
    if split is not None and split not in store.SPLITS:
        raise ValidationError(
            f"split {split!r} is unknown; valid: {', '.join(store.SPLITS)}",
            key="dataset.error_split",
            split=split,
            valid=", ".join(store.SPLITS),
        )
    if image_source not in store.IMAGE_SOURCES:
        raise ValidationError(f"image source {image_source!r} is unknown; valid: {store.IMAGE_SOURCES}")
    batch = _Batch(label, split, image_source, event_source, _folder_label_map(ws))
    slots: list[FileOutcome | None] = []  # one per file, in the order the files were given
    try:
        _import_all(ws, actor, items, batch, slots)
    except StorageError as exc:  # a later chunk met a full disk: say which photos the earlier ones stored
        raise stopped_error(exc, [o.file for o in slots if o is not None and o.status == "imported"]) from exc
    return ImportReport([outcome for outcome in slots if outcome is not None])


SHOWN_NAMES = 10  # a stopped import names this many of the photos it stored, then "… (+N)"


def stopped_error(exc: StorageError, stored: list[str]) -> StorageError:
    """The error of an import stopped by the workspace (disk full, the free-space floor), naming the photos
    committed before it stopped; with none committed (or a damaged database: its way back comes first), the
    error as it was."""
    if not stored or exc.key == "error.workspace_corrupt":
        return exc
    names = ", ".join(stored[:SHOWN_NAMES]) + (
        f", … (+{len(stored) - SHOWN_NAMES})" if len(stored) > SHOWN_NAMES else ""
    )
    if exc.key == "dataset.error_disk_floor":
        return StorageError(
            f"{exc}. {len(stored)} photo(s) of this import were stored before it stopped: {names}",
            key="dataset.error_floor_stored",
            count=len(stored),
            names=names,
            **exc.detail,
        )
    reason = str(exc.detail.get("reason") or exc)
    return StorageError(
        f"the import stopped: {exc}. {len(stored)} photo(s) of this import were stored before it stopped: {names}",
        key="dataset.error_import_stopped",
        reason=reason,
        count=len(stored),
        names=names,
    )


def _import_all(
    ws: Workspace,
    actor: auth.Actor,
    items: Iterable[sources.Source | sources.Refusal | sources.Skip],
    batch: _Batch,
    slots: list[FileOutcome | None],
) -> None:
    """Read, check and store the files chunk by chunk, filling slots; earlier chunks stay stored if one fails."""
    batch_seen: dict[str, str] = {}
    pending: list[tuple[int, sources.Source, bytes]] = []
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        for index, item in enumerate(items):
            slots.append(None)
            if index >= ws.settings.max_batch_files:
                slots[index] = FileOutcome(
                    "…", "rejected", key="reject.too_many", detail={"limit": ws.settings.max_batch_files}
                )
                break
            if isinstance(item, sources.Refusal):
                slots[index] = FileOutcome(item.name, "rejected", key=item.key, detail=item.detail)
                continue
            if isinstance(item, sources.Skip):
                slots[index] = FileOutcome(item.name, "skipped", key=item.key)
                continue
            try:
                pending.append((index, item, item.read()))  # read now: zip readers close with their archive
            except RejectedFile as exc:
                slots[index] = _refused(item.name, exc)
            except OSError as exc:
                slots[index] = FileOutcome(
                    item.name, "rejected", key="reject.unreadable", detail={"detail": exc.strerror or str(exc)}
                )
            if len(pending) >= CHUNK:
                _flush(ws, actor, pool, pending, batch_seen, slots, batch)
                pending = []
        _flush(ws, actor, pool, pending, batch_seen, slots, batch)


def _duplicate(name: str, image: store.Image, split: str | None) -> FileOutcome:
    """A file already stored; when a split was asked for and the stored photo is elsewhere, say so: it stays
    where it is (its split may be locked, or runs may have used it there)."""
    if image.deleted_at:
        return FileOutcome(name, "duplicate", image.id, "dup.trash", {"id": image.id})
    if split is not None and image.split != split:
        return FileOutcome(name, "duplicate", image.id, "dup.other_split", {"id": image.id, "split": image.split})
    return FileOutcome(name, "duplicate", image.id, "dup.existing", {"id": image.id})


def _refused(name: str, exc: RejectedFile) -> FileOutcome:
    return FileOutcome(name, "rejected", key=exc.reason_key, detail=dict(exc.detail))


def _folder_label_map(ws: Workspace) -> dict[str, str]:
    """Folder names that mean a label: the name itself and its English and Korean display names."""
    mapping: dict[str, str] = {}
    for lab in label_set.list_labels(ws.conn):
        for alias in (lab.name, lab.display_en, lab.display_ko):
            mapping[alias.strip().lower()] = lab.name
    return mapping


@dataclass(frozen=True)
class _Prepared:
    new: store.NewImage | None
    error: RejectedFile | None
    wrote: tuple[Path, ...] = ()  # files this call created (removed again if the chunk is not stored)
    failure: StorageError | None = None  # the workspace could not take the files (disk full, read-only)


def _discard(prepared: list[_Prepared]) -> None:
    for prep in prepared:
        for path in prep.wrote:
            path.unlink(missing_ok=True)


def _flush(
    ws: Workspace,
    actor: auth.Actor,
    pool: ThreadPoolExecutor,
    pending: list[tuple[int, sources.Source, bytes]],
    batch_seen: dict[str, str],
    slots: list[FileOutcome | None],
    batch: _Batch,
) -> None:
    """Dedup, decode and store one chunk; fill each file's slot with its outcome."""
    if not pending:
        return
    shas = list(pool.map(lambda job: hashlib.sha256(job[2]).hexdigest(), pending))
    known = store.find_shas(ws.conn, shas)
    todo: list[tuple[int, sources.Source, bytes, str, str | None]] = []
    for (index, src, data), sha in zip(pending, shas, strict=True):
        if sha in known:
            image = known[sha]
            slots[index] = _duplicate(src.name, image, batch.split)
        elif sha in batch_seen:
            slots[index] = FileOutcome(src.name, "duplicate", None, "dup.batch", {"name": batch_seen[sha]})
        else:
            batch_seen[sha] = src.name
            folder_label = batch.folder_labels.get((src.folder or "").strip().lower())
            todo.append((index, src, data, sha, batch.label or folder_label))
    with files.files_lock(ws.layout.root, exclusive=False):  # files written, rows not yet: doctor must wait
        stored, prepared = _store_chunk(ws, actor, pool, todo, batch)
    for (index, src, _data, sha, _label), prep in zip(todo, prepared, strict=True):
        if prep.error is not None:
            slots[index] = _refused(src.name, prep.error)
            continue
        image_id, inserted = stored[sha]
        slots[index] = (
            FileOutcome(src.name, "imported", image_id)
            if inserted
            else FileOutcome(src.name, "duplicate", image_id, "dup.existing", {"id": image_id})
        )


def _store_chunk(
    ws: Workspace,
    actor: auth.Actor,
    pool: ThreadPoolExecutor,
    todo: list[tuple[int, sources.Source, bytes, str, str | None]],
    batch: _Batch,
) -> tuple[dict[str, tuple[int, bool]], list[_Prepared]]:
    """Write the files of a chunk's new photos, then their rows in one transaction. A chunk that would leave
    less than the free-space floor is refused before anything is written."""
    if todo:  # the original, and up to as much again (at most 512 KB) for the cache copy, thumbnail and rows
        need = sum(len(job[2]) + min(len(job[2]), 2**19) for job in todo)
        files.check_room(ws.layout.root, need, ws.settings.min_free_mb)
    prepared = list(pool.map(lambda job: _prepare(ws, job[1:], batch.split, batch.image_source), todo))
    failure = next((p.failure for p in prepared if p.failure is not None), None)
    ready = [p.new for p in prepared if p.new is not None]
    try:  # all of a chunk or none of it: no file stays behind without its row
        if failure is not None:
            raise failure
        stored = (
            store.insert_images(ws.conn, actor, ready, batch.event_source, ws.settings.split_ratios, batch.book)
            if ready
            else {}
        )
    except BaseException:
        _discard(prepared)
        batch.book.forget()  # it may count the photos of the chunk just rolled back
        raise
    return stored, prepared


def _prepare(
    ws: Workspace, job: tuple[sources.Source, bytes, str, str | None], split: str | None, image_source: str
) -> _Prepared:
    """Decode, derive and write the files of one new photo (runs in a worker thread)."""
    src, data, sha, label = job
    try:
        decoded = imaging.decode(data, ws.settings.max_pixels, ws.settings.cache_px, ws.settings.max_decode_mb)
        derived = imaging.derive(decoded.image, ws.settings.thumb_px)
    except RejectedFile as exc:
        return _Prepared(None, exc)
    layout = ws.layout
    original = layout.original(sha, decoded.ext)
    wrote: list[Path] = []
    try:
        for path, content in (
            (original, data),
            (layout.cached(sha), derived.cached_jpeg),
            (layout.thumb(sha), derived.thumb_jpeg),
        ):
            if path is original and original.exists():
                continue  # stored before (a photo in the trash, say): never rewritten, never removed
            files.write_atomic(path, content)
            wrote.append(path)
    except StorageError as exc:
        _discard([_Prepared(None, None, tuple(wrote))])
        return _Prepared(None, None, failure=exc)
    return _Prepared(
        store.NewImage(
            sha256=sha,
            ext=decoded.ext,
            display_name=src.name,
            origin=src.origin[:500],
            source=image_source,
            width=decoded.width,
            height=decoded.height,
            bytes=len(data),
            phash=derived.phash,
            brightness=derived.brightness,
            sharpness=derived.sharpness,
            label=label,
            split=split,
        ),
        None,
        tuple(wrote),
    )
