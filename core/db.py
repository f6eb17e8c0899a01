"""The database: schema and migrations (PRAGMA user_version), connections (WAL, busy timeout,
foreign keys) and the write transaction every mutation runs in."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from core import errors
from core.errors import StorageError
from core.migrations import MIGRATIONS

DEFAULT_LABELS = (("normal", "normal", "정상"), ("broken", "broken", "파손"), ("missing", "missing", "유실"))

_MIGRATIONS = MIGRATIONS  # the schema lives in core.migrations


def iso(moment: datetime) -> str:
    """A moment as every table stores it: UTC, to the millisecond, with a Z (text order is time order)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(datetime.now(UTC))


def connect(db_path: Path, read_only: bool = False) -> sqlite3.Connection:
    """Open the database with WAL, a busy timeout and foreign keys, checked (PRAGMA quick_check) and migrated to
    the newest schema. A damaged file raises StorageError("error.workspace_corrupt") naming the way back.
    read_only (a workspace on a read-only disk): no migration, no cleanup, every write refused (query_only)."""
    try:
        conn = sqlite3.connect(
            _read_only_uri(db_path) if read_only else db_path,
            timeout=30.0,
            uri=read_only,
            isolation_level=None,
            check_same_thread=False,
            factory=_CheckedConnection,
        )
        conn.db_path = db_path
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        for pragma in ("query_only = ON",) if read_only else ("journal_mode = WAL", "synchronous = NORMAL"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("PRAGMA foreign_keys = ON")
        _quick_check(conn, db_path)
        if not read_only:
            migrate(conn)
        elif (version := schema_version(conn)) != len(_MIGRATIONS):  # a migration writes: not on a read-only disk
            conn.close()
            raise sqlite3.OperationalError(
                f"schema {version} is older than {len(_MIGRATIONS)}; open it once where it can be written"
            )
    except sqlite3.DatabaseError as exc:
        if errors.is_corrupt(exc):
            raise errors.corrupt_error(db_path, str(exc)) from exc
        if isinstance(exc, sqlite3.OperationalError) and not read_only and not os.access(db_path.parent, os.W_OK):
            raise StorageError(
                f"the workspace folder {db_path.parent} is read-only; boltscope needs to write there "
                "(mount it read-write, or point BOLTSCOPE_WORKSPACE elsewhere)",
                key="error.workspace_readonly",
                path=db_path.parent.name,
            ) from exc
        raise StorageError(
            f"cannot open the workspace database {db_path}: {exc}",
            key="error.workspace_db",
            path=db_path.name,
            reason=str(exc),
        ) from exc
    return conn


def _read_only_uri(db_path: Path) -> str:
    """Immutable where the folder cannot be written (SQLite could not make the -shm file), unless a WAL waits."""
    wal = db_path.with_name(db_path.name + "-wal")
    immutable = not os.access(db_path.parent, os.W_OK) and not (wal.exists() and wal.stat().st_size > 0)
    return db_path.resolve().as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")


# Files that passed quick_check in this process, by (device, inode, size, mtime): a page or a CLI command that
# opens the same unchanged file again does not read it all again.
_checked: set[tuple[int, int, int, int]] = set()


def _quick_check(conn: sqlite3.Connection, db_path: Path) -> None:
    """PRAGMA quick_check reads every page once: about 4 ms a MB, 19 ms for 10,000 photos and 10,000 audit rows
    (4.9 MB); a file already checked and unchanged since costs nothing."""
    try:
        info = db_path.stat()
    except OSError:
        return
    stamp = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    if stamp in _checked:
        return
    rows = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
    if rows != ["ok"]:
        raise errors.corrupt_error(db_path, "; ".join(rows))
    _checked.add(stamp)


class _CheckedCursor(sqlite3.Cursor):
    """A cursor whose damaged-database errors, at any later point, are the StorageError of corrupt_error."""

    def translate(self, exc: sqlite3.DatabaseError) -> BaseException:
        path = getattr(self.connection, "db_path", None)
        return errors.corrupt_error(path, str(exc)) if path is not None and errors.is_corrupt(exc) else exc


def _translating(name: str):
    method = getattr(sqlite3.Cursor, name)

    def call(self: _CheckedCursor, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise self.translate(exc) from exc

    call.__name__ = name
    return call


for _name in ("execute", "executemany", "fetchone", "fetchmany", "fetchall", "__next__"):
    setattr(_CheckedCursor, _name, _translating(_name))


class _CheckedConnection(sqlite3.Connection):
    """Every cursor, also of conn.execute(), is a _CheckedCursor; db_path names the file in its errors."""

    db_path: Path | None = None

    def cursor(self, factory=_CheckedCursor):
        return super().cursor(factory)

    def execute(self, sql, parameters=(), /):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters, /):
        return self.cursor().executemany(sql, seq_of_parameters)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken up front (BEGIN IMMEDIATE) so concurrent writers queue, not fail."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise StorageError(
            f"the workspace database refused the change: {exc}", key="error.workspace_db_refused", reason=str(exc)
        ) from exc
    except StorageError:
        if conn.in_transaction:  # a damaged page met inside the transaction (corrupt_error)
            with suppress(sqlite3.Error, StorageError):
                conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for index in range(version, len(_MIGRATIONS)):
            # executescript() would COMMIT mid-transaction, so run the statements one by one
            step = _MIGRATIONS[index]
            for statement in step.split(";") if isinstance(step, str) else step:
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {index + 1}")
        if version == 0:
            conn.executemany(
                "INSERT INTO labels (name, position, display_en, display_ko) VALUES (?, ?, ?, ?)",
                [(name, pos, en, ko) for pos, (name, en, ko) in enumerate(DEFAULT_LABELS)],
            )


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]
