"""API tokens for cameras and other systems: created by an admin, tied to a role, revocable, audited on every use.

A token's secret is shown once, when it is made; only its SHA-256 is stored (the secret is 256 random bits, so a
plain hash is as strong as a slow one and lets a call be looked up by its hash, never by comparing secrets).
Refusals of a secret say the same for an unknown and a revoked one: a caller learns nothing about names.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import sqlite3
from dataclasses import dataclass, replace

from core import audit, auth, db
from core.errors import CoreError, NotFoundError, ValidationError

PREFIX = "bst_"  # recognisable in a config file or a leaked log, like GitHub's ghp_
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # fullmatch; no ':' so "token:NAME" is never a user
MAX_SECRET = 256  # a longer Authorization value is refused before it is hashed
ACTOR_PREFIX = "token:"
log = logging.getLogger(__name__)


class TokenRefused(CoreError):
    """The secret is missing, unknown or revoked (the API answers 401); the message never says which."""


@dataclass(frozen=True)
class Token:
    """What may be shown about a token: never its secret, never its hash."""

    name: str
    role: str
    created_by: str
    created_at: str
    last_used: str | None
    revoked_at: str | None
    revoked_by: str | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None


def _token(row: sqlite3.Row) -> Token:
    return Token(
        row["name"],
        row["role"],
        row["created_by"],
        row["created_at"],
        row["last_used"],
        row["revoked_at"],
        row["revoked_by"],
    )


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def _check_name(name: str) -> None:
    if not NAME_RE.fullmatch(name or ""):
        shown = ascii((name or "")[:64])[1:-1]
        raise ValidationError(
            f"token name '{shown}' is not valid: 1-64 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit",
            key="api.token_name_invalid",
            name=shown,
        )


def _check_role(role: str) -> None:
    if role not in auth.ROLES:
        raise ValidationError(
            f"role {role!r} is unknown; valid roles: {', '.join(auth.ROLES)}",
            key="api.token_role_unknown",
            role=role,
            valid=", ".join(auth.ROLES),
        )


def add_token(conn: sqlite3.Connection, actor: auth.Actor, name: str, role: str) -> tuple[Token, str]:
    """A new token and its secret, which is returned here once and never stored or shown again."""
    auth.require(actor, "tokens", conn)
    _check_name(name)
    _check_role(role)
    secret = PREFIX + secrets.token_urlsafe(32)
    now = db.now_iso()
    with db.transaction(conn):
        if conn.execute("SELECT 1 FROM api_tokens WHERE name = ? AND revoked_at IS NULL", (name,)).fetchone():
            raise ValidationError(
                f"token {name!r} exists already; revoke it first (`token revoke {name}`) or choose another name",
                key="api.token_exists",
                name=name,
            )
        conn.execute(
            "INSERT INTO api_tokens (name, role, token_hash, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
            (name, role, digest(secret), actor.name, now),
        )
        audit.record(conn, actor.name, "token.add", name, role=role)
    return Token(name, role, actor.name, now, None, None, None), secret


def list_tokens(conn: sqlite3.Connection, include_revoked: bool = False) -> list[Token]:
    """Live tokens by name (with include_revoked, the revoked ones too, newest first after them)."""
    where = "" if include_revoked else " WHERE revoked_at IS NULL"
    rows = conn.execute(f"SELECT * FROM api_tokens{where} ORDER BY revoked_at IS NOT NULL, name, id DESC")
    return [_token(row) for row in rows]


def revoke_token(conn: sqlite3.Connection, actor: auth.Actor, name: str) -> Token:
    """End the live token of this name at once: its next call is refused. The row stays for the audit."""
    auth.require(actor, "tokens", conn)
    _check_name(name)
    now = db.now_iso()
    with db.transaction(conn):
        row = conn.execute("SELECT * FROM api_tokens WHERE name = ? AND revoked_at IS NULL", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"there is no live token named {name!r}", key="api.token_unknown", name=name)
        conn.execute("UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ?", (now, actor.name, row["id"]))
        audit.record(conn, actor.name, "token.revoke", name, role=row["role"])
    return replace(_token(row), revoked_at=now, revoked_by=actor.name)


def check_token(conn: sqlite3.Connection, secret: str | None, client: str = "", endpoint: str = "") -> auth.Actor:
    """The actor a secret stands for ("token:NAME" with the token's role); the use is audited ("token.use": the
    endpoint and client) and last_used set, in one transaction. A revoked token's attempt is audited too (its
    name is known); an unknown secret only logged (an unauthenticated caller must not fill the audit)."""
    refused = TokenRefused("unknown or revoked API token", key="api.token_refused")
    if not secret or len(secret) > MAX_SECRET:
        raise refused
    hashed = digest(secret)
    with db.transaction(conn):
        row = conn.execute("SELECT * FROM api_tokens WHERE token_hash = ?", (hashed,)).fetchone()
        if row is None:
            log.warning("API call with an unknown token from %s to %s", client or "?", endpoint or "?")
            raise refused
        user = ACTOR_PREFIX + row["name"]
        details = {"endpoint": endpoint, "client": client, "role": row["role"]}
        if row["revoked_at"] is not None:
            audit.record(conn, user, "token.use", row["name"], **details, refused="revoked")
        else:
            conn.execute("UPDATE api_tokens SET last_used = ? WHERE id = ?", (db.now_iso(), row["id"]))
            audit.record(conn, user, "token.use", row["name"], **details)
    if row["revoked_at"] is not None:
        raise refused
    return auth.Actor(user, row["role"])
