"""Content-addressed file store inside the workspace, with atomic writes (temp file + rename)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from core.errors import StorageError, ValidationError

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_EXT_RE = re.compile(r"^\.[a-z0-9]{2,5}$")
TMP_PREFIX = ".tmp-"
T = TypeVar("T")


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
            for folder in (
                self.root,
                self.originals,
                self.cache / "images",
                self.cache / "thumbs",
                self.runs,
                self.logs,
                self.weights,
            ):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create workspace folders under {self.root}: {exc}",
                key="error.workspace_folders",
                path=str(self.root),
                reason=exc.strerror or str(exc),
            ) from exc

    def original(self, sha256: str, ext: str) -> Path:
        _check_sha(sha256)
        if not _EXT_RE.match(ext):
            raise ValidationError(
                f"file extension {ext!r} is not a stored image extension", key="error.file_extension", ext=ext
            )
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
        raise StorageError(
            f"cannot write {path.name} in the workspace: {exc.strerror or exc}",
            key="error.workspace_write",
            name=path.name,
            reason=exc.strerror or str(exc),
        ) from exc


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
        raise StorageError(
            f"{what} {target} failed: {exc.strerror or exc}",
            key="error.workspace_staged",
            path=str(target),
            reason=exc.strerror or str(exc),
        ) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# ---- room on the workspace's disk --------------------------------------------------------------------------
# Sign-in must work on a nearly full disk (a session row and an audit row, a few pages of the WAL). So bulk
# writes (imports) stop at a floor of free space, and a reserve file, made at open while there is room, is given
# back when a small write still meets a full disk (retry_with_reserve).

RESERVE = ".reserve"


def free_mb(root: Path) -> float:
    """Free space on the disk that holds root, in MB (what an unprivileged writer may use)."""
    stats = os.statvfs(root)
    return stats.f_bavail * stats.f_frsize / 2**20


def check_room(root: Path, need_bytes: int, floor_mb: int) -> None:
    """Refuse a bulk write of need_bytes that would leave less than floor_mb free (StorageError); floor 0: none."""
    if floor_mb <= 0:
        return
    try:
        free = free_mb(root)
    except OSError:
        return  # cannot tell: the write itself will say
    if free - need_bytes / 2**20 < floor_mb:
        raise StorageError(
            f"only {free:.0f} MB are free on the workspace's disk; imports and exports stop at "
            f"{floor_mb} MB (BOLTSCOPE_MIN_FREE_MB) so that sign-in and the database keep room: free "
            "space first",
            key="dataset.error_disk_floor",
            free_mb=f"{free:.0f}",
            floor_mb=floor_mb,
        )


def ensure_reserve(root: Path, reserve_mb: int, floor_mb: int) -> bool:
    """Make the reserve file (reserve_mb, really allocated) when it is missing and the disk has room for it and
    the floor; True when it is there afterwards. Best effort: a full or read-only disk just has none."""
    path = root / RESERVE
    size = reserve_mb * 2**20
    with contextlib.suppress(OSError):
        if path.stat().st_size >= size:
            return True
    tmp = root / f"{TMP_PREFIX}{uuid.uuid4().hex}-{RESERVE}"
    try:
        if free_mb(root) < reserve_mb + floor_mb:
            return False
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.posix_fallocate(fd, 0, size)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return False


def release_reserve(root: Path) -> bool:
    """Give the reserve's space back to the disk; True when there was one."""
    try:
        (root / RESERVE).unlink()
    except OSError:
        return False
    return True


def has_reserve(root: Path) -> bool:
    return (root / RESERVE).exists()


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether an error (or one it came from) is a full disk: ENOSPC/EDQUOT, or SQLite's SQLITE_FULL."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF == 13:  # SQLITE_FULL
            return True
        if "disk is full" in str(exc) or "No space left on device" in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def retry_with_reserve(root: Path, action: Callable[[], T]) -> tuple[T, bool]:
    """Run a small write; when it meets a full disk, release the reserve and run it once more. Returns its result
    and whether the reserve had to be given up (then the disk is nearly full: tell the user)."""
    try:
        return action(), False
    except (OSError, StorageError) as exc:
        if not (is_disk_full(exc) or _no_room(root)) or not release_reserve(root):
            raise
    return action(), True


def _no_room(root: Path) -> bool:
    """The disk is full to the last MB: then SQLite's "disk I/O error" (it could not grow its -shm file) is one."""
    try:
        return free_mb(root) < 1
    except OSError:
        return False


# ---- the settling lock: imports hold it shared, doctor exclusive ----------------------------

FILES_LOCK = ".files.lock"  # in the workspace root: see files_lock


@contextlib.contextmanager
def files_lock(root: Path, exclusive: bool, wait_s: float | None = None) -> Iterator[bool]:
    """An advisory lock (flock) on the workspace's stored files, across processes and threads.

    An import holds it shared from writing a chunk's files until their rows are committed; `doctor` holds it
    exclusive while it decides which files no row claims. So doctor never sees a chunk half-stored, however long
    the chunk takes. Yields True when held, False when wait_s passed first (the caller then acts as if it could
    not be sure). Where the lock file can be neither made nor opened (a read-only workspace), nothing can be
    storing files either: it yields True.
    """
    try:
        fd = os.open(root / FILES_LOCK, os.O_RDWR | os.O_CREAT, 0o664)
    except OSError:
        try:
            fd = os.open(root / FILES_LOCK, os.O_RDONLY)
        except OSError:
            yield True
            return
    try:
        yield _take(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH, wait_s)
    finally:
        os.close(fd)  # releases the lock


def _take(fd: int, mode: int, wait_s: float | None) -> bool:
    if wait_s is None:
        fcntl.flock(fd, mode)
        return True
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
