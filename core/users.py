"""Local accounts: argon2id password hashes, roles, sign-in with lockout, the single sign-on mapping.

Passwords are never stored, logged or put in an audit entry; only their argon2 hashes are kept. Names, passwords
and e-mails are bounded before anything is looked up, hashed or stored; failed sign-ins lock the name (attempts
while locked do not extend it) and make the client wait, decided in one write transaction.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass

from argon2 import PasswordHasher

from core import audit, auth, db, sessions
from core.errors import NotFoundError, PermissionDenied, ValidationError

MIN_PASSWORD = 8
PRIVILEGED_MIN_PASSWORD = 12  # trainers and admins: their accounts change models and accounts
PRIVILEGED = ("trainer", "admin")
# the most common passwords of 8 characters and more (as breached-password lists rank them), compared casefolded
COMMON_PASSWORDS = frozenset(
    """
    password password1 password12 password123 password1234 password123! passw0rd p@ssw0rd 12345678 123456789
    1234567890 123456789012 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y qwertyui qwerty123 qwerty1234 qwerty123456 qwertyuiop
    qwertyuiop12 iloveyou iloveyou1234 sunshine princess football baseball superman trustno1 abcd1234 abc123456789
    11111111 111111111111 00000000 000000000000 88888888 aaaaaaaa letmein1 letmeinletmein welcome1 welcome123
    welcome12345 changeme changeme123 changeme1234 administrator admin123 admin1234 adminadmin adminadmin12
    admin12345678 boltscope boltscope123 boltscope1234 passwordpassword
""".split()
)
MAX_PASSWORD = 1024  # longer is refused before anything is hashed or stored
MAX_NAME = 64
MAX_EMAIL = 254
NAME_RE = re.compile(r"[\w.@-]{1,64}")  # fullmatch: `$` would let a trailing newline through
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
HASHER = PasswordHasher()  # argon2id (sign-in verifies with it too), the library's vetted defaults
log = logging.getLogger(__name__)


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
    return User(
        row["name"],
        row["role"],
        row["email"],
        bool(row["disabled"]),
        row["password_hash"] is not None,
        row["created_by"],
        row["created_at"],
        row["last_sign_in"],
    )


def list_users(conn: sqlite3.Connection) -> list[User]:
    return [_user(r) for r in conn.execute("SELECT * FROM users ORDER BY name")]


def get(conn: sqlite3.Connection, name: str) -> User | None:
    row = conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    return _user(row) if row else None


def any_users(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None


def bounded(text: str, limit: int = MAX_NAME) -> str:
    """Typed text as messages and the audit may keep it: at most `limit` characters, control and non-ASCII
    characters escaped, and how many more there were."""
    shown = ascii(text[:limit])[1:-1]
    return f"{shown}…(+{len(text) - limit})" if len(text) > limit else shown


def _check_password(password: str, role: str | None = None, name: str = "") -> str:
    """The argon2 hash of an acceptable password; checked before hashing, so a huge one costs nothing. Trainers
    and admins need PRIVILEGED_MIN_PASSWORD characters, not their name, not a common password."""
    if len(password) > MAX_PASSWORD:
        raise ValidationError(
            f"a password may have at most {MAX_PASSWORD} characters", key="session.user_password_long", n=MAX_PASSWORD
        )
    least = PRIVILEGED_MIN_PASSWORD if role in PRIVILEGED else MIN_PASSWORD
    if len(password) < least:
        raise ValidationError(
            f"a password needs at least {least} characters", key="session.user_password_short", n=least
        )
    if password.strip() != password or "\x00" in password:
        raise ValidationError(
            "a password may not begin or end with spaces or contain NUL", key="session.user_password_spaces"
        )
    if role in PRIVILEGED and name and name.casefold() in password.casefold():
        raise ValidationError(
            "a trainer's or admin's password may not contain the user name", key="session.user_password_name"
        )
    if role in PRIVILEGED and password.casefold() in COMMON_PASSWORDS:
        raise ValidationError(
            "this password is one of the most common ones; choose another", key="session.user_password_common"
        )
    return HASHER.hash(password)


def _check_role(role: str) -> None:
    if role not in auth.ROLES:
        raise ValidationError(
            f"role {role!r} is unknown; valid roles: {', '.join(auth.ROLES)}",
            key="session.user_role_unknown",
            role=role,
            valid=", ".join(auth.ROLES),
        )


def add(
    conn: sqlite3.Connection,
    actor: auth.Actor,
    name: str,
    role: str,
    password: str | None = None,
    email: str | None = None,
) -> User:
    """A new account. password None: single sign-on only (then an e-mail is needed to match it)."""
    auth.require(actor, "users")
    if not NAME_RE.fullmatch(name or ""):  # before anything is stored: a 5 MB name never reaches a message
        raise ValidationError(
            f"user name '{bounded(name or '')}' is not valid: 1-64 letters, digits, '.', '_', '@' or '-'",
            key="session.user_name_invalid",
            name=bounded(name or ""),
        )
    _check_role(role)
    if email is not None and (len(email) > MAX_EMAIL or not _EMAIL_RE.fullmatch(email)):
        raise ValidationError(
            f"e-mail address '{bounded(email)}' is not valid", key="session.user_email_invalid", email=bounded(email)
        )
    if password is None and email is None:
        raise ValidationError(
            "an account needs a password, or an e-mail address for single sign-on", key="session.user_needs_login"
        )
    hashed = _check_password(password, role, name) if password is not None else None
    with db.transaction(conn):
        if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise ValidationError(f"user {name!r} exists already", key="session.user_exists", name=name)
        if email and conn.execute("SELECT 1 FROM users WHERE email = ?", (email,)).fetchone():
            raise ValidationError(
                f"e-mail address {email!r} belongs to another user", key="session.user_email_taken", email=email
            )
        conn.execute(
            "INSERT INTO users (name, role, password_hash, email, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (name, role, hashed, email, actor.name, db.now_iso()),
        )
        audit.record(conn, actor.name, "user.add", name, role=role, email=email, sso_only=hashed is None)
    return get(conn, name)  # type: ignore[return-value]


def existing(conn: sqlite3.Connection, name: str) -> User:
    user = get(conn, name)
    if user is None:
        raise NotFoundError(f"user '{bounded(name)}' does not exist", key="session.user_unknown", name=bounded(name))
    return user


def _keeps_an_admin(conn: sqlite3.Connection, name: str) -> None:
    others = conn.execute(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND name != ?", (name,)
    ).fetchone()[0]
    if not others:
        raise ValidationError(
            f"{name!r} is the last active admin; make another admin first", key="session.user_last_admin", name=name
        )


def set_role(conn: sqlite3.Connection, actor: auth.Actor, name: str, role: str) -> None:
    auth.require(actor, "users")
    _check_role(role)
    with db.transaction(conn):
        user = existing(conn, name)
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
    hashed = _check_password(password, existing(conn, name).role, name)
    with db.transaction(conn):
        existing(conn, name)
        conn.execute("UPDATE users SET password_hash = ? WHERE name = ?", (hashed, name))
        if actor.name != name:
            sessions.revoke_user(conn, name, "password")
        audit.record(conn, actor.name, "user.password", name)


def set_disabled(conn: sqlite3.Connection, actor: auth.Actor, name: str, disabled: bool) -> None:
    auth.require(actor, "users")
    with db.transaction(conn):
        user = existing(conn, name)
        if disabled and user.role == "admin":
            _keeps_an_admin(conn, name)
        conn.execute("UPDATE users SET disabled = ? WHERE name = ?", (int(disabled), name))
        if disabled:
            sessions.revoke_user(conn, name, "disabled")
        audit.record(conn, actor.name, "user.disable" if disabled else "user.enable", name)


def actor_for_identity(conn: sqlite3.Connection, email: str | None, name: str | None) -> auth.Actor:
    """Single sign-on: the local account with that e-mail (else that name) gives the role."""
    row = None
    if email:
        row = conn.execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone()
    if row is None and name:
        row = conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        typed = bounded(email or name or "", MAX_EMAIL)
        audit.record_now(conn, typed or "?", "sign_in.failed", typed, reason="no local account", method="sso")
        raise NotFoundError(
            f"no boltscope account for '{typed}'; an admin can add one with that e-mail",
            key="session.user_no_account",
            name=typed,
        )
    if row["disabled"]:
        audit.record_now(conn, row["name"], "sign_in.failed", row["name"], reason="disabled", method="sso")
        raise PermissionDenied(
            f"the account {row['name']!r} is disabled", key="session.user_disabled", name=row["name"]
        )
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
