"""Turn what a user hands us (files, folders, zip archives, browser uploads) into import sources,
refusing unsafe zip entries (absolute or '..' paths, encryption, bombs) before anything is read."""

from __future__ import annotations

import io
import os
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from core.config import Settings
from core.imaging import ACCEPTED_EXTS, reject

_SKIP_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
_ZIP_EXTS = (".zip",)
_HEIF_EXTS = (".heic", ".heif", ".hif")


@dataclass(frozen=True)
class Source:
    """One candidate photo: its display name, where it came from, and how to get its bytes."""

    name: str
    origin: str
    folder: str | None  # the folder it sat in: a label candidate (ImageFolder layout)
    size: int
    read: Callable[[], bytes] = field(repr=False)


@dataclass(frozen=True)
class Refusal:
    """A file refused before decoding; `key` and `detail` make a translated reason."""

    name: str
    key: str
    detail: dict[str, object]
    message: str


@dataclass(frozen=True)
class Skip:
    """A file passed over on purpose, with a translated reason (a hidden file): reported, never imported."""

    name: str
    key: str


def refusal(name: str, key: str, **detail: object) -> Refusal:
    err = reject(key, **detail)
    return Refusal(name, key, detail, str(err))


def display_name(raw: str) -> str:
    """A safe name for display: NFC-normalised (Korean from macOS), no control characters."""
    name = unicodedata.normalize("NFC", raw)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if len(name) > 200:  # shortened in the middle of the stem: the extension still says what the file is
        stem, ext = os.path.splitext(name)
        name = stem[: 200 - len(ext[:10])] + ext[:10]
    return name or "unnamed"


def _ext(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def _metadata(name: str) -> bool:
    """What an OS or a tool leaves beside photos, never a photo to import: macOS' .DS_Store, AppleDouble `._name`
    files and __MACOSX/ folders, Windows' Thumbs.db and desktop.ini, anything in a hidden folder (.thumbnails,
    .git). Left out without a word, wherever it comes from (a folder, a zip, a browser upload)."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    base = parts[-1].lower() if parts else ""
    return (
        base in _SKIP_NAMES
        or base.startswith("._")
        or "__MACOSX" in parts
        or any(part.startswith(".") and part not in (".", "..") for part in parts[:-1])
    )


def _hidden(name: str) -> bool:
    """A hidden file (`.hidden_photo.jpg`): skipped and reported, the same for the CLI and uploads."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return bool(parts) and parts[-1].startswith(".")


def passed_over(name: str, label: str | None = None) -> Iterator[Skip]:
    """For a name that is not `ordinary`: a Skip (named `label`) for a hidden file, nothing for OS metadata."""
    if not _metadata(name) and _hidden(name):
        yield Skip(label or display_name(name), "skip.hidden")


def ordinary(name: str) -> bool:
    """Neither OS metadata nor hidden: a candidate photo."""
    return not _metadata(name) and not _hidden(name)


def iter_paths(paths: Iterable[str | os.PathLike[str]], settings: Settings) -> Iterator[Source | Refusal | Skip]:
    """Files, folders (recursively, class subfolders as labels) and zip files on disk."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")  # as _metadata
                for name in sorted(files):
                    file_path = Path(root) / name
                    folder = Path(root).name  # `import photos/normal` labels them too
                    yield from _from_file(file_path, folder, settings)
        elif path.is_file():
            yield from _from_file(path, None, settings)
        else:
            yield refusal(display_name(str(raw)), "reject.unreadable", detail="no such file or folder")


def _from_file(path: Path, folder: str | None, settings: Settings) -> Iterator[Source | Refusal | Skip]:
    name = display_name(path.name)
    if not ordinary(path.name):
        yield from passed_over(path.name)
        return
    try:
        size = path.stat().st_size
    except OSError as exc:
        yield refusal(name, "reject.unreadable", detail=exc.strerror or str(exc))
        return
    if _ext(path.name) in _ZIP_EXTS:
        try:
            with open(path, "rb") as handle:
                yield from iter_zip(handle, name, settings)
        except OSError as exc:
            yield refusal(name, "reject.unreadable", detail=exc.strerror or str(exc))
        return
    yield from _checked(name, str(path), folder, size, path.read_bytes, settings)


def _checked(
    name: str, origin: str, folder: str | None, size: int, read: Callable[[], bytes], settings: Settings
) -> Iterator[Source | Refusal | Skip]:
    ext = _ext(name)
    if ext in _HEIF_EXTS:  # iPhone photos: say what to do, not just "unknown type"
        yield refusal(name, "reject.heic")
    elif ext not in ACCEPTED_EXTS:
        yield refusal(name, "reject.extension", ext=ext or name)
    elif size == 0:
        yield refusal(name, "reject.empty")
    elif size > settings.max_file_bytes:
        yield refusal(name, "reject.too_big", size_mb=size / 2**20, limit_mb=settings.max_file_mb)
    else:
        yield Source(name, origin, folder and display_name(folder), size, read)


def iter_uploads(files: Iterable[tuple[str, bytes]], settings: Settings) -> Iterator[Source | Refusal | Skip]:
    """Browser uploads: (name, bytes) pairs; a name may carry a relative folder path."""
    for raw_name, data in files:
        parts = PurePosixPath(raw_name.replace("\\", "/")).parts
        name = display_name(parts[-1] if parts else raw_name)
        folder = parts[-2] if len(parts) > 1 else None
        if not ordinary(raw_name):  # as an import from disk: the browser may send hidden files of a folder
            yield from passed_over(raw_name, name)
        elif _ext(name) in _ZIP_EXTS:
            yield from iter_zip(io.BytesIO(data), name, settings)
        else:
            yield from _checked(name, f"upload:{name}", folder, len(data), lambda d=data: d, settings)


def _entry_name(info: zipfile.ZipInfo) -> str:
    """Zip names without the UTF-8 flag were written by Windows tools, often in cp949 (Korean)."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437", errors="replace")
    for codec in ("utf-8", "cp949"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return info.filename


def _unsafe(name: str) -> bool:
    posix = name.replace("\\", "/")
    return posix.startswith("/") or (len(posix) > 1 and posix[1] == ":") or ".." in posix.split("/")


def iter_zip(handle: BinaryIO, zip_name: str, settings: Settings) -> Iterator[Source | Refusal | Skip]:
    """Entries of a zip archive, each checked; the archive is refused whole if it is a bomb."""
    try:
        archive = zipfile.ZipFile(handle)
        infos = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        yield refusal(zip_name, "reject.bad_zip", detail=str(exc)[:120])
        return
    declared = sum(info.file_size for info in infos)
    if declared > settings.max_zip_bytes:
        yield refusal(zip_name, "reject.zip_too_big", size_mb=declared / 2**20, limit_mb=settings.max_zip_mb)
        return
    budget = [settings.max_zip_bytes]  # what the entries may really expand to, headers aside
    for info in infos:
        name = _entry_name(info)
        label = f"{zip_name}/{display_name(name)}"
        if _unsafe(name):  # first: '..\\evil.jpg' must be refused, not passed over as a hidden file
            yield refusal(label, "reject.unsafe_path")
        elif not ordinary(name):
            yield from passed_over(name, label)
        elif info.flag_bits & 0x1:
            yield refusal(label, "reject.encrypted")
        elif _ext(name) in _ZIP_EXTS:
            yield refusal(label, "reject.nested_zip")
        else:
            parts = PurePosixPath(name.replace("\\", "/")).parts
            folder = parts[-2] if len(parts) > 1 else None
            reader = _entry_reader(archive, info, settings, budget)
            yield from _checked(label, f"zip:{zip_name}!{name}", folder, info.file_size, reader, settings)


def _entry_reader(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, settings: Settings, budget: list[int]
) -> Callable[[], bytes]:
    def read() -> bytes:
        limit = min(settings.max_file_bytes, budget[0])
        try:
            with archive.open(info) as entry:
                data = entry.read(limit + 1)  # never trust the declared size
        except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, NotImplementedError) as exc:
            raise reject("reject.bad_zip", detail=str(exc)[:120]) from exc
        if len(data) > limit:
            if limit < settings.max_file_bytes:
                raise reject("reject.zip_too_big", size_mb=settings.max_zip_bytes / 2**20, limit_mb=settings.max_zip_mb)
            raise reject("reject.too_big", size_mb=len(data) / 2**20, limit_mb=settings.max_file_mb)
        budget[0] -= len(data)
        return data

    return read
