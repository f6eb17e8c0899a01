"""Server-side sign-in sessions: revocable rows, idle expiry, and the signed cookie that finds them again.

A session row is keyed by an id the server keeps (in the browser tab's server-side state) and, once the browser
holds its cookie, by the SHA-256 of a random token. The token travels only in an HttpOnly, SameSite=Strict
cookie that the server sets itself (serve.py, POST /auth/session): the Streamlit script cannot set an HttpOnly
cookie, so after a sign-in it hands the browser a one-time code (valid HANDOFF_SECONDS, once), which the
browser POSTs back to get the cookie. The cookie carries the token and an HMAC of it under a secret kept in
the workspace (mode 0600), so a forged or altered cookie is refused before the database is asked. Neither
the token nor the code is ever stored: only their hashes.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core import audit, auth, db
from core.errors import StorageError

COOKIE = "boltscope_session"
SECRET_FILE = "session.key"
HANDOFF_SECONDS = 30
TOUCH_EVERY = timedelta(seconds=30)  # last_seen is written at most this often: a rerun is not a write
FORGET_AFTER = timedelta(days=30)  # rows of sessions ended (or idle) this long ago are deleted


@dataclass(frozen=True)
class Handoff:
    """A new session: its id (kept server-side by the tab) and the one-time code the browser redeems."""

    session_id: int
    code: str


@dataclass(frozen=True)
class Status:
    """What a session is now. state: active, expired (idle too long), ended (signed out, role changed,
    account disabled: reason says which) or unknown. actor is set only when active."""

    state: str
    actor: auth.Actor | None = None
    reason: str | None = None
    lang: str | None = None  # the language last chosen in this session (a reload or a new tab keeps it)


def _hash(secret_text: str) -> str:
    return hashlib.sha256(secret_text.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def create(conn: sqlite3.Connection, actor: auth.Actor, method: str = "password", lang: str | None = None) -> Handoff:
    """A session for an actor who has just proven who they are (signin.authenticate or single sign-on)."""
    code = secrets.token_urlsafe(32)
    now = _now()
    with db.transaction(conn):
        conn.execute("DELETE FROM sessions WHERE last_seen < ?", (db.iso(now - FORGET_AFTER),))
        cursor = conn.execute(
            "INSERT INTO sessions (user, method, handoff_hash, handoff_expires, created_at, last_seen, lang) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                actor.name,
                method,
                _hash(code),
                db.iso(now + timedelta(seconds=HANDOFF_SECONDS)),
                db.iso(now),
                db.iso(now),
                lang,
            ),
        )
    return Handoff(int(cursor.lastrowid), code)


def set_lang(conn: sqlite3.Connection, session_id: int, lang: str) -> None:
    """Remember the language chosen in a session."""
    with db.transaction(conn):
        conn.execute("UPDATE sessions SET lang = ? WHERE id = ?", (lang, session_id))


def redeem(conn: sqlite3.Connection, code: str) -> str | None:
    """The cookie token for a hand-off code, once: the code is spent whether or not it was still valid. None
    for an unknown, spent or expired code, or a session that has ended meanwhile."""
    if not code or len(code) > 128:
        return None
    token = secrets.token_urlsafe(32)
    with db.transaction(conn):
        row = conn.execute(
            "SELECT id, handoff_expires, ended_at FROM sessions WHERE handoff_hash = ?", (_hash(code),)
        ).fetchone()
        if row is None:
            return None
        conn.execute("UPDATE sessions SET handoff_hash = NULL, handoff_expires = NULL WHERE id = ?", (row["id"],))
        if row["ended_at"] is not None or row["handoff_expires"] < db.iso(_now()):
            return None
        conn.execute("UPDATE sessions SET token_hash = ? WHERE id = ?", (_hash(token), row["id"]))
    return token


def handoff_open(conn: sqlite3.Connection, code: str) -> bool:
    """True while a hand-off code can still be redeemed (not spent, not expired, its session not ended)."""
    row = conn.execute(
        "SELECT handoff_expires FROM sessions WHERE handoff_hash = ? AND ended_at IS NULL", (_hash(code),)
    ).fetchone()
    return row is not None and row["handoff_expires"] >= db.iso(_now())


def find(conn: sqlite3.Connection, token: str) -> int | None:
    """The id of the session a (verified) cookie token belongs to, ended or not; None when there is none."""
    row = conn.execute("SELECT id FROM sessions WHERE token_hash = ?", (_hash(token),)).fetchone()
    return int(row["id"]) if row else None


def lookup(conn: sqlite3.Connection, session_id: int, idle: timedelta, touch_it: bool = True) -> Status:
    """The session's state now, with the account as the users table has it now. An active session is touched
    (its idle clock restarts) unless touch_it is False (a live view redrawing itself is not the user acting);
    one idle longer than `idle` is ended here (audited as a sign-out, reason idle)."""
    row = conn.execute(
        "SELECT s.*, u.role, u.disabled FROM sessions s LEFT JOIN users u ON u.name = s.user WHERE s.id = ?",
        (session_id,),
    ).fetchone()
    if row is None:
        return Status("unknown")
    if row["ended_at"] is not None:
        return Status("ended", reason=row["end_reason"])
    if row["role"] is None or row["disabled"]:  # users.set_disabled ends sessions; this guards a hand edit
        revoke(conn, session_id, "disabled")
        return Status("ended", reason="disabled")
    now = _now()
    last_seen = datetime.fromisoformat(row["last_seen"])
    if now - last_seen > idle:
        revoke(conn, session_id, "idle")
        return Status("expired", reason="idle")
    if touch_it and now - last_seen > TOUCH_EVERY:
        touch(conn, session_id)
    return Status("active", auth.Actor(row["user"], row["role"]), lang=row["lang"])


def touch(conn: sqlite3.Connection, session_id: int) -> None:
    """Restart a session's idle clock."""
    with db.transaction(conn):
        conn.execute(
            "UPDATE sessions SET last_seen = ? WHERE id = ? AND ended_at IS NULL", (db.iso(_now()), session_id)
        )


def revoke(conn: sqlite3.Connection, session_id: int, reason: str = "user") -> None:
    """End one session (sign-out, idle expiry); audited once as the user's sign-out, however many tabs ask."""
    with db.transaction(conn):
        row = conn.execute("SELECT user FROM sessions WHERE id = ? AND ended_at IS NULL", (session_id,)).fetchone()
        if row is None:
            return
        conn.execute(
            "UPDATE sessions SET ended_at = ?, end_reason = ?, handoff_hash = NULL WHERE id = ?",
            (db.now_iso(), reason, session_id),
        )
        audit.record(conn, row["user"], "sign_out", row["user"], reason=reason)


def revoke_user(conn: sqlite3.Connection, user: str, reason: str) -> int:
    """End every open session of a user (role changed, account disabled, password reset). Runs no transaction
    of its own: call it inside the transaction of the change. The forced sign-out is audited as the user's,
    with its real reason. Returns how many."""
    cursor = conn.execute(
        "UPDATE sessions SET ended_at = ?, end_reason = ?, handoff_hash = NULL WHERE user = ? AND ended_at IS NULL",
        (db.now_iso(), reason, user),
    )
    if cursor.rowcount:
        audit.record(conn, user, "sign_out", user, reason=reason, forced=True, sessions=cursor.rowcount)
    return cursor.rowcount


def load_secret(root: Path) -> bytes:
    """The workspace's cookie-signing key (created once, mode 0600, atomically: two processes starting
    together agree on one key)."""
    path = root / SECRET_FILE
    if not path.exists():
        tmp = root / f".tmp-{secrets.token_hex(8)}-{SECRET_FILE}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(32))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)  # create-if-absent: the first writer wins, the others read its key
        except OSError as exc:
            raise StorageError(f"cannot create the session key {path}: {exc.strerror or exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
    try:
        if path.stat().st_mode & 0o077:  # copied in by hand with a looser mode: others may not read it
            os.chmod(path, 0o600)
        key = path.read_bytes()
    except OSError as exc:
        raise StorageError(f"cannot read the session key {path}: {exc.strerror or exc}") from exc
    if len(key) < 32:
        raise StorageError(f"the session key {path} is damaged; delete it (everyone signs in again)")
    return key


def sign(key: bytes, token: str) -> str:
    """The cookie value: the token and its HMAC-SHA256 under the workspace key."""
    return f"{token}.{hmac.new(key, token.encode(), hashlib.sha256).hexdigest()}"


def verify(key: bytes, value: str | None) -> str | None:
    """The token of a cookie value whose signature is right; None for a missing, forged or altered one."""
    if not isinstance(value, str):
        return None
    token, _, signature = value.partition(".")
    if not token or not signature:
        return None
    expected = hmac.new(key, token.encode(), hashlib.sha256).hexdigest()
    return token if hmac.compare_digest(expected.encode(), signature.encode(errors="replace")) else None
