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

DEFAULT_LABELS = (("normal", "normal", "정상"), ("broken", "broken", "파손"), ("missing", "missing", "유실"))

_MIGRATIONS: tuple[str | tuple[str, ...], ...] = (
    """
    CREATE TABLE labels (
        name TEXT PRIMARY KEY,
        position INTEGER NOT NULL,
        display_en TEXT NOT NULL,
        display_ko TEXT NOT NULL
    );
    CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        ext TEXT NOT NULL,
        display_name TEXT NOT NULL,
        origin TEXT NOT NULL,
        source TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        phash TEXT NOT NULL,
        brightness REAL NOT NULL,
        sharpness REAL NOT NULL,
        label TEXT REFERENCES labels(name) ON UPDATE CASCADE,
        split TEXT CHECK (split IN ('train', 'val', 'test')),
        split_locked INTEGER NOT NULL DEFAULT 0,
        added_by TEXT NOT NULL,
        added_at TEXT NOT NULL,
        deleted_at TEXT,
        deleted_by TEXT
    );
    CREATE INDEX images_label ON images(label);
    CREATE INDEX images_added ON images(added_at);
    CREATE TABLE label_events (
        id INTEGER PRIMARY KEY,
        image_id INTEGER NOT NULL REFERENCES images(id),
        old_label TEXT,
        new_label TEXT,
        user TEXT NOT NULL,
        at TEXT NOT NULL,
        source TEXT NOT NULL
    );
    CREATE INDEX label_events_image ON label_events(image_id);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')),
        config TEXT NOT NULL,
        sweep TEXT,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        heartbeat_at TEXT,
        worker_pid INTEGER,
        worker_host TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        progress TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        error_hint TEXT
    );
    CREATE INDEX jobs_status ON jobs(status);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL UNIQUE REFERENCES jobs(id),
        kind TEXT NOT NULL,
        arch TEXT NOT NULL,
        config TEXT NOT NULL,
        class_names TEXT NOT NULL,
        weights TEXT NOT NULL,
        device TEXT,
        versions TEXT NOT NULL,
        created_at TEXT NOT NULL,
        finished_at TEXT,
        best_epoch INTEGER,
        val_accuracy REAL,
        val_macro_f1 REAL,
        test_accuracy REAL,
        test_macro_f1 REAL,
        checkpoint TEXT
    );
    CREATE TABLE run_images (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        image_id INTEGER NOT NULL REFERENCES images(id),
        label TEXT NOT NULL,
        split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
        held_out INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, image_id)
    );
    CREATE TABLE epochs (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        epoch INTEGER NOT NULL,
        train_loss REAL,
        train_accuracy REAL,
        val_loss REAL,
        val_accuracy REAL,
        val_macro_f1 REAL,
        lr REAL,
        seconds REAL,
        images_per_s REAL,
        steps INTEGER,
        at TEXT NOT NULL,
        PRIMARY KEY (run_id, epoch)
    );
    CREATE TABLE predictions (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        image_id INTEGER NOT NULL REFERENCES images(id),
        split TEXT NOT NULL,
        predicted TEXT NOT NULL,
        probs TEXT NOT NULL,
        PRIMARY KEY (run_id, image_id)
    );
    CREATE TABLE workers (
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL,
        PRIMARY KEY (host, pid)
    );
    CREATE TABLE embeddings (
        model_key TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model_key, sha256)
    );
    """,
    """
    ALTER TABLE epochs ADD COLUMN train_macro_f1 REAL;
    """,
    """
    ALTER TABLE runs ADD COLUMN operating_point TEXT;
    ALTER TABLE runs ADD COLUMN cpu_ms REAL;
    CREATE TABLE promotions (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        previous_run_id INTEGER REFERENCES runs(id),
        user TEXT NOT NULL,
        at TEXT NOT NULL,
        forced INTEGER NOT NULL,
        reason TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE suspects (
        image_id INTEGER PRIMARY KEY REFERENCES images(id),
        given TEXT NOT NULL,
        predicted TEXT NOT NULL,
        score REAL NOT NULL,
        flagged INTEGER NOT NULL,
        job_id INTEGER REFERENCES jobs(id),
        at TEXT NOT NULL
    );
    CREATE TABLE review_decisions (
        id INTEGER PRIMARY KEY,
        image_id INTEGER NOT NULL REFERENCES images(id),
        reason TEXT NOT NULL,
        decision TEXT NOT NULL,
        user TEXT NOT NULL,
        at TEXT NOT NULL
    );
    """,
    # 6: local accounts and the append-only audit log. Triggers contain ';', so this migration is a tuple of
    # statements rather than one script.
    (
        """CREATE TABLE users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'labeler', 'trainer', 'admin')),
            password_hash TEXT,
            email TEXT UNIQUE COLLATE NOCASE,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_sign_in TEXT
        )""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            user TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            details TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX audit_at ON audit(at)",
        "CREATE INDEX audit_user_action ON audit(user, action)",
        """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
           BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
        """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
           BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    ),
    # 7: server-side sign-in sessions (core.sessions). Only SHA-256 hashes of the cookie token and of the
    # one-time hand-off code are kept; the token itself lives in the browser's HttpOnly cookie alone.
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users(name),
        method TEXT NOT NULL,
        token_hash TEXT UNIQUE,
        handoff_hash TEXT UNIQUE,
        handoff_expires TEXT,
        created_at TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        ended_at TEXT,
        end_reason TEXT,
        lang TEXT
    );
    CREATE INDEX sessions_user ON sessions(user);
    """,
    # 8: API tokens for cameras and other systems (core.tokens). Only the SHA-256 of a token is kept; a revoked
    # token keeps its row (the audit names it), and its name may be given to a new token.
    """
    CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_used TEXT,
        revoked_at TEXT,
        revoked_by TEXT
    );
    CREATE UNIQUE INDEX api_tokens_live ON api_tokens(name) WHERE revoked_at IS NULL;
    """,
)


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
