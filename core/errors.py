"""The CoreError tree: every message names the bad value and, where there are some, the valid options.

Every error may carry a translation key (`key`) and the values that fill it (`detail`), so the UI shows it in
the user's language; `str(exc)` stays the English message for the CLI, logs and the API. A damaged database
file, however SQLite reports it, becomes one StorageError (is_corrupt, corrupt_error).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class CoreError(Exception):
    """Base of every error the engine raises on purpose. `key`/`detail`: the translated form (optional)."""

    def __init__(self, message: str = "", *, key: str | None = None, **detail: object) -> None:
        super().__init__(message)
        self.key = key
        self.detail = detail


class ValidationError(CoreError, ValueError):
    """An argument or input value is not acceptable."""


class NotFoundError(CoreError, LookupError):
    """A referenced image, run, job or user does not exist."""


class PermissionDenied(CoreError, PermissionError):
    """The acting user's role does not allow the action."""


class SignInRefused(PermissionDenied):
    """Sign-in refused; `reason_key` is a translation key, `detail` fills it (the page shows it translated)."""

    def __init__(self, reason_key: str, message: str, **detail: object) -> None:
        super().__init__(message, key=reason_key, **detail)

    @property
    def reason_key(self) -> str:
        return self.key or ""


class RejectedFile(CoreError):
    """One input file was refused at import; `reason_key` is a translation key, `detail` fills it."""

    def __init__(self, reason_key: str, message: str, **detail: object) -> None:
        super().__init__(message, key=reason_key, **detail)

    @property
    def reason_key(self) -> str:
        return self.key or ""


class StorageError(CoreError, OSError):
    """The workspace cannot be written (disk full, read-only) or is damaged."""


def is_corrupt(exc: BaseException) -> bool:
    """True for SQLite's "database disk image is malformed" and "file is not a database"."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    return any(text in str(exc) for text in ("malformed", "file is not a database"))


def corrupt_error(db_path: Path, reason: str) -> StorageError:
    """The damaged-database error: the CLI prints the English text (full paths, for the operator); the UI shows
    the translated key, which names only the workspace folder and the file."""
    reason = " ".join(reason.replace("*** in database main ***", "").split())[:200]
    root = db_path.parent
    return StorageError(
        f"the workspace database {db_path} is damaged ({reason}); nothing can be read or saved until it is "
        f"restored from the latest backup: stop the app and its workers, then run "
        f"`python -m core --workspace {root} restore BACKUP_DIR --force` (the damaged workspace is kept aside "
        f"as {root.name}.before-restore-…)",
        key="error.workspace_corrupt",
        file=db_path.name,
        workspace=root.name,
        reason=reason,
    )
