"""Sign-in with a local account: the password checked against its argon2 hash, failed attempts that lock the
name for a while (attempts made while locked do not extend it) and make the client wait, decided in one write
transaction; an admin unlocks. Passwords are never stored, logged or put in an audit entry."""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from argon2.exceptions import InvalidHashError, VerificationError

from core import audit, auth, db, files, users
from core.errors import SignInRefused, StorageError

LOCKOUT_FAILURES = 5  # failed sign-ins for one name within LOCKOUT_WINDOW lock it for that window
LOCKOUT_WINDOW = timedelta(minutes=10)
BACKOFF_AFTER = 5  # failed sign-ins from one client within LOCKOUT_WINDOW before it waits 1, 2, 4 … seconds
BACKOFF_MAX_S = 60
_COUNTED = '"counted": true'  # in the details of a failure that counts towards the lock (not one made while locked)
_UNRECORDED: dict[str, list[str]] = {}  # failures the database could not record (disk full): they count all the same
_DUMMY = users.HASHER.hash("not a password of anyone")  # verified for unknown names, so timing tells nothing
log = logging.getLogger(__name__)


def _now() -> datetime:
    """The clock of sign-in is the audit's own (db.now_iso), so a test moves both by patching one function."""
    return datetime.fromisoformat(db.now_iso().replace("Z", "+00:00"))


def _recent_unrecorded(key: str, since: str) -> list[str]:
    return [at for at in _UNRECORDED.get(key, []) if at >= since]


def _lock_start(conn: sqlite3.Connection, name: str) -> str:
    """Failures since this time count: the window, or the last unlock (user.enable) of the name if later."""
    since = db.iso(_now() - LOCKOUT_WINDOW)
    unlocks = [
        e.at for e in audit.query(conn, actions=("user.enable",), since=since, text=name, limit=100) if e.target == name
    ]
    return max([since, *unlocks])


def is_locked(conn: sqlite3.Connection, name: str) -> bool:
    """Whether LOCKOUT_FAILURES counted failures fall in the window. Attempts made while locked do not count, so
    they never extend the lock: it ends LOCKOUT_WINDOW after the failure that started it, or when an admin unlocks."""
    since = _lock_start(conn, name)
    counted = audit.query(
        conn, user=name, actions=("sign_in.failed",), since=since, text=_COUNTED, limit=LOCKOUT_FAILURES
    )
    return len(counted) + len(_recent_unrecorded(f"name:{name}", since)) >= LOCKOUT_FAILURES


def _backoff(conn: sqlite3.Connection, client: str | None) -> int:
    """Seconds the client must still wait: after BACKOFF_AFTER failures from it within the window, 1, 2, 4 …
    (at most BACKOFF_MAX_S) seconds after its latest one. Waiting attempts are neither verified nor recorded."""
    if not client:
        return 0
    now = _now()
    since = db.iso(now - LOCKOUT_WINDOW)
    text = f'"client": {json.dumps(client)}'  # as audit.record writes it (JSON escapes every quote inside)
    ats = [
        e.at for e in audit.query(conn, actions=("sign_in.failed",), since=since, text=text, limit=BACKOFF_AFTER + 8)
    ]
    ats += _recent_unrecorded(f"client:{client}", since)
    if len(ats) < BACKOFF_AFTER:
        return 0
    delay = min(2 ** (len(ats) - BACKOFF_AFTER), BACKOFF_MAX_S)
    latest = datetime.fromisoformat(max(ats).replace("Z", "+00:00"))
    return max(0, math.ceil((latest + timedelta(seconds=delay) - now).total_seconds()))


@dataclass
class _Attempt:
    name: str
    password: str
    client: str | None
    row: sqlite3.Row | None = None
    reason: str | None = None  # why it failed, for the audit; None: signed in, or refused without a record
    counted: bool = False  # the failure counts towards the lock of the name
    refusal: SignInRefused | None = None


def _check(conn: sqlite3.Connection, a: _Attempt) -> None:
    """Decides the attempt (inside the caller's write transaction): back-off, shape, lock, then the password."""
    wait = _backoff(conn, a.client)
    if wait:
        a.refusal = SignInRefused(
            "signin.backoff", f"too many failed sign-ins from here; wait {wait} seconds", seconds=wait
        )
    elif not users.NAME_RE.fullmatch(a.name):  # never looked up, hashed or stored as typed
        a.reason, a.refusal = (
            "malformed name",
            SignInRefused("signin.name_invalid", "a user name has 1-64 letters, digits, '.', '_', '@' or '-'"),
        )
    elif is_locked(conn, a.name):
        minutes = int(LOCKOUT_WINDOW.total_seconds() // 60)
        a.reason, a.refusal = (
            "locked",
            SignInRefused(
                "signin.locked",
                f"too many failed sign-ins for {a.name!r}; try again in {minutes} minutes",
                minutes=minutes,
            ),
        )
    else:
        a.row = conn.execute("SELECT * FROM users WHERE name = ?", (a.name,)).fetchone()
        a.reason = _verify(a.row, a.password)
        if a.reason:
            a.counted = True
            a.refusal = SignInRefused("signin.wrong", "wrong user name or password, or the account is disabled")


def _verify(row: sqlite3.Row | None, password: str) -> str | None:
    """Why the password does not sign in to the row, or None. Unknown names cost a hash too (timing tells nothing)."""
    if len(password) > users.MAX_PASSWORD:
        return "password too long"
    stored = row["password_hash"] if row is not None and row["password_hash"] else _DUMMY
    try:
        ok = users.HASHER.verify(stored, password) and row is not None and stored is not _DUMMY
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        return (
            "unknown user"
            if row is None
            else "no password (single sign-on only)"
            if stored is _DUMMY
            else "wrong password"
        )
    return "disabled" if row["disabled"] else None


def _record(conn: sqlite3.Connection, a: _Attempt) -> None:
    client = {"client": a.client} if a.client else {}
    if a.refusal is None:
        stored = a.row["password_hash"]
        if users.HASHER.check_needs_rehash(stored):
            conn.execute("UPDATE users SET password_hash = ? WHERE name = ?", (users.HASHER.hash(a.password), a.name))
        conn.execute("UPDATE users SET last_sign_in = ? WHERE name = ?", (db.now_iso(), a.name))
        audit.record(conn, a.name, "sign_in", a.name, method="password", **client)
    elif a.reason:  # a malformed name is kept bounded and escaped, under the user "?"
        counted = {"counted": True} if a.counted else {}
        audit.record(
            conn,
            a.name if a.reason != "malformed name" else "?",
            "sign_in.failed",
            users.bounded(a.name),
            reason=a.reason,
            **client,
            **counted,
        )


def authenticate(conn: sqlite3.Connection, name: str, password: str, client: str | None = None) -> auth.Actor:
    """The signed-in actor, or SignInRefused (one message for every wrong name or password; the audit keeps why).

    `client`: where the attempt comes from (the page passes the browser's address); its failures make it wait.
    Back-off, lock check, verification and record are one write transaction, so simultaneous guesses queue and
    none is checked past the lock. When the database cannot record (disk full), the workspace's disk reserve is
    given back and the attempt made once more (files.retry_with_reserve); when it still cannot, the attempt is
    refused with that reason and a failure still counts, in this process.
    """
    a = _Attempt(name=(name or "").strip(), password=password or "", client=users.bounded(client) if client else None)

    def attempt() -> None:
        a.row, a.reason, a.counted, a.refusal = None, None, False, None  # a second try decides afresh
        with db.transaction(conn):
            _check(conn, a)
            _record(conn, a)

    db_path = getattr(conn, "db_path", None)
    try:  # a full disk: the workspace's reserve is given back and the attempt made once more
        if db_path is not None:
            files.retry_with_reserve(Path(db_path).parent, attempt)
        else:
            attempt()
    except StorageError as exc:
        log.error("a sign-in could not be recorded: %s", exc)
        if a.counted:
            since = db.iso(_now() - LOCKOUT_WINDOW)
            for key in (f"name:{a.name}", *([f"client:{a.client}"] if a.client else [])):
                _UNRECORDED[key] = [*_recent_unrecorded(key, since), db.now_iso()]
        raise SignInRefused(
            "signin.unrecorded",
            "the server cannot record sign-ins now (its disk is full or "
            "read-only); nobody can sign in until an admin frees space",
        ) from exc
    if a.refusal is not None:
        raise a.refusal
    return auth.Actor(a.row["name"], a.row["role"])


def unlock(conn: sqlite3.Connection, actor: auth.Actor, name: str) -> None:
    """An admin lifts the sign-in lock of a name: audited as user.enable with unlock (enabling also unlocks)."""
    auth.require(actor, "users")
    with db.transaction(conn):
        users.existing(conn, name)
        audit.record(conn, actor.name, "user.enable", name, unlock=True)
    _UNRECORDED.pop(f"name:{name}", None)
