"""The append-only audit log: who did what, when, to what. Rows are written in the same transaction as the
change they record (so one never exists without the other); triggers refuse UPDATE and DELETE."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from core import db
from core.errors import ValidationError

ACTIONS = (
    "upload",
    "relabel",
    "delete",
    "restore",
    "split",
    "settings",
    "train",
    "cancel",
    "resume",
    "promote",
    "export",
    "user.add",
    "user.role",
    "user.password",
    "user.disable",
    "user.enable",
    "sign_in",
    "sign_in.failed",
    "sign_out",
    "backup",
    "restore_backup",
    "doctor",
    "refused",
    "review.skip",
    "review.request",
    "station.add",
    "station.update",
    "inspect",
    "inspection.correct",
    "inspection.to_dataset",
    "report",
    "token.add",
    "token.revoke",
    "token.use",
)


@dataclass(frozen=True)
class Entry:
    id: int
    at: str
    user: str
    action: str
    target: str
    details: dict[str, object]


def record(conn: sqlite3.Connection, user: str, action: str, target: object = "", **details: object) -> None:
    """Append one entry; call it inside the transaction of the change it records."""
    if action not in ACTIONS:
        raise ValidationError(
            f"audit action {action!r} is unknown; valid: {', '.join(ACTIONS)}", key="error.audit_action", action=action
        )
    conn.execute(
        "INSERT INTO audit (at, user, action, target, details) VALUES (?, ?, ?, ?, ?)",
        (db.now_iso(), user, action, str(target), json.dumps(details, ensure_ascii=False, default=str, sort_keys=True)),
    )


def record_now(conn: sqlite3.Connection, user: str, action: str, target: object = "", **details: object) -> None:
    """Append one entry in a transaction of its own (events that change nothing else: sign-in, export)."""
    with db.transaction(conn):
        record(conn, user, action, target, **details)


def query(
    conn: sqlite3.Connection,
    user: str | None = None,
    actions: tuple[str, ...] | None = None,
    since: str | None = None,
    until: str | None = None,
    text: str | None = None,
    limit: int = 1000,
) -> list[Entry]:
    """Newest first. since/until: ISO dates or times (UTC); text: found in the target or the details."""
    where, args = [], []
    if user:
        where.append("user = ?")
        args.append(user)
    if actions:
        where.append(f"action IN ({','.join('?' * len(actions))})")
        args.extend(actions)
    if since:
        where.append("at >= ?")
        args.append(since)
    if until:
        where.append("at < ?")
        args.append(until)
    if text:
        where.append("(instr(lower(target), lower(?)) > 0 OR instr(lower(details), lower(?)) > 0)")
        args.extend([text, text])
    sql = "SELECT * FROM audit" + (" WHERE " + " AND ".join(where) if where else "")
    rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, int(limit)]).fetchall()
    return [Entry(r["id"], r["at"], r["user"], r["action"], r["target"], json.loads(r["details"])) for r in rows]


def users_seen(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT user FROM audit ORDER BY user")]


def count_since(conn: sqlite3.Connection, action: str, target: str, since: str) -> int:
    return conn.execute(
        "SELECT COUNT(*) FROM audit WHERE action = ? AND target = ? AND at >= ?", (action, target, since)
    ).fetchone()[0]
