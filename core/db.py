"""The database: schema and migrations (PRAGMA user_version), connections (WAL, busy timeout,
foreign keys) and the write transaction every mutation runs in."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

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
)



def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def connect(db_path: Path) -> sqlite3.Connection:
    """Open the database with WAL, a busy timeout and foreign keys, migrated to the newest schema."""
    try:
        conn = sqlite3.connect(db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
    except sqlite3.OperationalError as exc:
        if not os.access(db_path.parent, os.W_OK):
            raise StorageError(f"the workspace folder {db_path.parent} is read-only; boltscope needs to write there "
                               "(mount it read-write, or point BOLTSCOPE_WORKSPACE elsewhere)") from exc
        raise StorageError(f"cannot open the workspace database {db_path}: {exc}") from exc
    return conn


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
        raise StorageError(f"the workspace database refused the change: {exc}") from exc


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


