"""Content-addressed files of the inspection record: station reference photos and inspection photos.

They live under records/, not originals/: originals belong to dataset images, and doctor takes an original no
image row claims for an orphan. Each photo passes the import's guards (imaging) before it is written, and is
written before any row refers to it (a file without a row is harmless; a row without its file is not).
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from core import files, imaging
from core.errors import RejectedFile, ValidationError
from core.workspace import Workspace

_SHA_RE = re.compile(r"[0-9a-f]{64}")
_EXT_RE = re.compile(r"\.[a-z0-9]{2,5}")


@dataclass(frozen=True)
class StoredPhoto:
    """A photo checked and written under records/; `wrote` is the file this call created (None: it was there)."""

    sha256: str
    ext: str
    size: tuple[int, int]
    wrote: Path | None


def path(ws: Workspace, sha256: str, ext: str) -> Path:
    """Where a station's reference or an inspection's photo lives; built from a checked SHA-256, never a name."""
    if not _SHA_RE.fullmatch(sha256 or "") or not _EXT_RE.fullmatch(ext or ""):
        raise ValidationError(f"{sha256!r}{ext!r} is not a stored photo name", key="error.file_sha", sha=sha256)
    return ws.layout.root / "records" / sha256[:2] / f"{sha256}{ext}"


def check_photo(ws: Workspace, name: str, data: bytes, decode: bool = True) -> tuple[str, tuple[int, int]]:
    """(extension, upright size) of a photo checked with the import's guards (imaging.decode: format, pixels,
    memory, corrupt data); decode=False reads the header alone (a photo the caller has decoded already)."""
    try:
        if not decode:
            return _header(data, ws.settings.max_pixels)
        decoded = imaging.decode(data, ws.settings.max_pixels, ws.settings.thumb_px, ws.settings.max_decode_mb)
    except RejectedFile as exc:
        raise ValidationError(f"photo {name!r} refused: {exc}", key=exc.reason_key, **exc.detail) from exc
    return decoded.ext, (decoded.width, decoded.height)


def store(ws: Workspace, data: bytes, ext: str, size: tuple[int, int]) -> StoredPhoto:
    """Write a checked photo under records/, before any row refers to it."""
    sha = hashlib.sha256(data).hexdigest()
    target = path(ws, sha, ext)
    if target.exists():
        return StoredPhoto(sha, ext, size, None)
    files.check_room(ws.layout.root, len(data), ws.settings.min_free_mb)
    files.write_atomic(target, data)
    return StoredPhoto(sha, ext, size, target)


def _header(data: bytes, max_pixels: int) -> tuple[str, tuple[int, int]]:
    """Format and stored size from the header alone (no pixel decoded)."""
    if not data:
        raise imaging.reject("reject.empty")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, size = img.format or "?", img.size
    except (UnidentifiedImageError, OSError) as exc:
        raise imaging.reject("reject.not_image") from exc
    if fmt not in imaging.ACCEPTED:
        raise imaging.reject("reject.format", format=fmt)
    if size[0] * size[1] > max_pixels:
        raise imaging.reject(
            "reject.pixels", width=size[0], height=size[1], mp=size[0] * size[1] / 1e6, limit_mp=max_pixels / 1e6
        )
    return imaging.ACCEPTED[fmt], size
