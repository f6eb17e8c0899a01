"""Content-addressed file store inside the workspace, with atomic writes (temp file + rename)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import StorageError, ValidationError

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_EXT_RE = re.compile(r"^\.[a-z0-9]{2,5}$")
TMP_PREFIX = ".tmp-"


class Layout:
    """Where each kind of file lives; every path is built from a checked SHA-256, never from a name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db_path = root / "boltscope.db"
        self.originals = root / "originals"
        self.cache = root / "cache"
        self.exports = root / "exports"
        self.runs = root / "runs"
        self.logs = root / "logs"
        self.weights = root / "weights"

    def ensure(self) -> None:
        try:
            for folder in (self.root, self.originals, self.cache / "images", self.cache / "thumbs", self.runs,
                           self.logs, self.weights):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create workspace folders under {self.root}: {exc}",
                               key="error.workspace_folders", path=str(self.root),
                               reason=exc.strerror or str(exc)) from exc

    def original(self, sha256: str, ext: str) -> Path:
        _check_sha(sha256)
        if not _EXT_RE.match(ext):
            raise ValidationError(f"file extension {ext!r} is not a stored image extension", key="error.file_extension",
                                  ext=ext)
        return self.originals / sha256[:2] / f"{sha256}{ext}"

    def cached(self, sha256: str) -> Path:
        _check_sha(sha256)
        return self.cache / "images" / sha256[:2] / f"{sha256}.jpg"

    def run_dir(self, run_id: int) -> Path:
        return self.runs / f"run-{int(run_id):06d}"

    def job_log(self, job_id: int) -> Path:
        return self.logs / f"job-{int(job_id):06d}.log"

    def thumb(self, sha256: str) -> Path:
        _check_sha(sha256)
        return self.cache / "thumbs" / sha256[:2] / f"{sha256}.jpg"


def _check_sha(sha256: str) -> None:
    if not _SHA_RE.match(sha256):
        raise ValidationError(f"{sha256!r} is not a lowercase hex SHA-256", key="error.file_sha", sha=sha256)


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes so that readers see the old file or the whole new one, never a part."""
    tmp = path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{path.name}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # the folder itself may be what is missing
            tmp.unlink(missing_ok=True)
        raise StorageError(f"cannot write {path.name} in the workspace: {exc.strerror or exc}",
                           key="error.workspace_write", name=path.name, reason=exc.strerror or str(exc)) from exc


@contextmanager
def staged_dir(target: Path, what: str) -> Iterator[Path]:
    """Build a folder beside target, then rename it into place: target is absent, or whole. target must not
    exist or be empty by the time the block ends; anything raised inside removes the half-built folder."""
    staging = target.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}-{target.name}")
    try:
        staging.mkdir(parents=True)
        yield staging
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise StorageError(f"{what} {target} failed: {exc.strerror or exc}", key="error.workspace_staged",
                           path=str(target), reason=exc.strerror or str(exc)) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
