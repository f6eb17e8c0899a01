"""Local accounts: argon2id password hashes, roles, sign-in with lockout, the single sign-on mapping.

Passwords are never stored, logged or put in an audit entry; only their argon2 hashes are kept.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core import audit, auth, db, sessions
from core.errors import NotFoundError, PermissionDenied, SignInRefused, ValidationError

MIN_PASSWORD = 8
LOCKOUT_FAILURES = 5  # failed sign-ins for one name within LOCKOUT_WINDOW lock it for that window
LOCKOUT_WINDOW = timedelta(minutes=10)
_NAME_RE = re.compile(r"^[\w.@-]{1,64}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
_hasher = PasswordHasher()  # argon2id, the library's vetted defaults
_DUMMY = _hasher.hash("not a password of anyone")  # verified for unknown names, so timing tells nothing


@dataclass(frozen=True)
class User:
    name: str
    role: str
    email: str | None
    disabled: bool
    has_password: bool
    created_by: str
    created_at: str
    last_sign_in: str | None


def _user(row: sqlite3.Row) -> User:
    return User(row["name"], row["role"], row["email"], bool(row["disabled"]), row["password_hash"] is not None,
                row["created_by"], row["created_at"], row["last_sign_in"])


def list_users(conn: sqlite3.Connection) -> list[User]:
    return [_user(r) for r in conn.execute("SELECT * FROM users ORDER BY name")]


def get(conn: sqlite3.Connection, name: str) -> User | None:
    row = conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    return _user(row) if row else None


def any_users(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"a password needs at least {MIN_PASSWORD} characters", key="session.user_password_short",
                              n=MIN_PASSWORD)
    if password.strip() != password or "\x00" in password:
        raise ValidationError("a password may not begin or end with spaces or contain NUL",
                              key="session.user_password_spaces")
    return _hasher.hash(password)


def _check_role(role: str) -> None:
    if role not in auth.ROLES:
        raise ValidationError(f"role {role!r} is unknown; valid roles: {', '.join(auth.ROLES)}",
                              key="session.user_role_unknown", role=role, valid=", ".join(auth.ROLES))


def add(conn: sqlite3.Connection, actor: auth.Actor, name: str, role: str, password: str | None = None,
        email: str | None = None) -> User:
    """A new account. password None: single sign-on only (then an e-mail is needed to match it)."""
    auth.require(actor, "users")
    if not _NAME_RE.match(name or ""):
        raise ValidationError(f"user name {name!r} is not valid: 1-64 letters, digits, '.', '_', '@' or '-'",
                              key="session.user_name_invalid", name=name)
    _check_role(role)
    if email is not None and not _EMAIL_RE.match(email):
        raise ValidationError(f"e-mail address {email!r} is not valid", key="session.user_email_invalid", email=email)
    if password is None and email is None:
        raise ValidationError("an account needs a password, or an e-mail address for single sign-on",
                              key="session.user_needs_login")
    hashed = _check_password(password) if password is not None else None
    with db.transaction(conn):
        if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise ValidationError(f"user {name!r} exists already", key="session.user_exists", name=name)
        if email and conn.execute("SELECT 1 FROM users WHERE email = ?", (email,)).fetchone():
            raise ValidationError(f"e-mail address {email!r} belongs to another user", key="session.user_email_taken",
                                  email=email)
        conn.execute("INSERT INTO users (name, role, password_hash, email, created_by, created_at) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (name, role, hashed, email, actor.name, db.now_iso()))
        audit.record(conn, actor.name, "user.add", name, role=role, email=email, sso_only=hashed is None)
    return get(conn, name)  # type: ignore[return-value]


def _existing(conn: sqlite3.Connection, name: str) -> User:
    user = get(conn, name)
    if user is None:
        raise NotFoundError(f"user {name!r} does not exist", key="session.user_unknown", name=name)
    return user


def _keeps_an_admin(conn: sqlite3.Connection, name: str) -> None:
    others = conn.execute("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND name != ?",
                          (name,)).fetchone()[0]
    if not others:
        raise ValidationError(f"{name!r} is the last active admin; make another admin first",
                              key="session.user_last_admin", name=name)


def set_role(conn: sqlite3.Connection, actor: auth.Actor, name: str, role: str) -> None:
    auth.require(actor, "users")
    _check_role(role)
    with db.transaction(conn):
        user = _existing(conn, name)
        if user.role == "admin" and role != "admin":
            _keeps_an_admin(conn, name)
        conn.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))
        if role != user.role:  # signed in again, they get the new role's pages: no page outlives its role
            sessions.revoke_user(conn, name, "role")
        audit.record(conn, actor.name, "user.role", name, old=user.role, new=role)


def set_password(conn: sqlite3.Connection, actor: auth.Actor, name: str, password: str) -> None:
    """An admin sets anyone's password (which ends that user's sessions); every user may change their own."""
    if actor.name != name:
        auth.require(actor, "users")
    hashed = _check_password(password)
    with db.transaction(conn):
        _existing(conn, name)
        conn.execute("UPDATE users SET password_hash = ? WHERE name = ?", (hashed, name))
        if actor.name != name:
            sessions.revoke_user(conn, name, "password")
        audit.record(conn, actor.name, "user.password", name)


def set_disabled(conn: sqlite3.Connection, actor: auth.Actor, name: str, disabled: bool) -> None:
    auth.require(actor, "users")
    with db.transaction(conn):
        user = _existing(conn, name)
        if disabled and user.role == "admin":
            _keeps_an_admin(conn, name)
        conn.execute("UPDATE users SET disabled = ? WHERE name = ?", (int(disabled), name))
        if disabled:
            sessions.revoke_user(conn, name, "disabled")
        audit.record(conn, actor.name, "user.disable" if disabled else "user.enable", name)


def _locked(conn: sqlite3.Connection, name: str) -> bool:
    since = (datetime.now(UTC) - LOCKOUT_WINDOW).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return audit.count_since(conn, "sign_in.failed", name, since) >= LOCKOUT_FAILURES


def authenticate(conn: sqlite3.Connection, name: str, password: str) -> auth.Actor:
    """The signed-in actor, or PermissionDenied with one message for every failure (the audit keeps why)."""
    name = (name or "").strip()
    if _locked(conn, name):
        audit.record_now(conn, name or "?", "sign_in.failed", name, reason="locked")
        minutes = int(LOCKOUT_WINDOW.total_seconds() // 60)
        raise SignInRefused("signin.locked", f"too many failed sign-ins for {name!r}; try again in {minutes} minutes",
                            minutes=minutes)
    row = conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    stored = row["password_hash"] if row is not None and row["password_hash"] else _DUMMY
    try:
        ok = _hasher.verify(stored, password or "") and row is not None and stored is not _DUMMY
    except (VerificationError, InvalidHashError):
        ok = False
    reason = ("unknown user" if row is None else "no password (single sign-on only)" if stored is _DUMMY
              else "disabled" if row["disabled"] else "wrong password")
    if not ok or row["disabled"]:
        audit.record_now(conn, name or "?", "sign_in.failed", name, reason=reason)
        raise SignInRefused("signin.wrong", "wrong user name or password, or the account is disabled")
    with db.transaction(conn):
        if _hasher.check_needs_rehash(stored):
            conn.execute("UPDATE users SET password_hash = ? WHERE name = ?", (_hasher.hash(password), name))
        conn.execute("UPDATE users SET last_sign_in = ? WHERE name = ?", (db.now_iso(), name))
        audit.record(conn, name, "sign_in", name, method="password")
    return auth.Actor(name, row["role"])


def actor_for_identity(conn: sqlite3.Connection, email: str | None, name: str | None) -> auth.Actor:
    """Single sign-on: the local account with that e-mail (else that name) gives the role."""
    row = None
    if email:
        row = conn.execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone()
    if row is None and name:
        row = conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        audit.record_now(conn, email or name or "?", "sign_in.failed", email or name or "", reason="no local account",
                         method="sso")
        raise NotFoundError(f"no boltscope account for {email or name!r}; an admin can add one with that e-mail",
                            key="session.user_no_account", name=email or name)
    if row["disabled"]:
        audit.record_now(conn, row["name"], "sign_in.failed", row["name"], reason="disabled", method="sso")
        raise PermissionDenied(f"the account {row['name']!r} is disabled", key="session.user_disabled",
                               name=row["name"])
    with db.transaction(conn):
        conn.execute("UPDATE users SET last_sign_in = ? WHERE name = ?", (db.now_iso(), row["name"]))
        audit.record(conn, row["name"], "sign_in", row["name"], method="sso")
    return auth.Actor(row["name"], row["role"])


def current(conn: sqlite3.Connection, actor: auth.Actor) -> auth.Actor | None:
    """The actor as the table has them now (role changed, disabled, removed): None when they may not go on."""
    user = get(conn, actor.name)
    if user is None or user.disabled:
        return None
    return auth.Actor(user.name, user.role)
