"""Roles and the permission check every mutating core call makes (sign-in itself lives in the app).

A refusal is audited ("refused": who, the action, their role and the role it needed) in one place, `require`,
on the connection the caller passes or, for the calls that pass none, the one an entry point named with
`audit_refusals(conn)` (for the app: around each page run). A refusal changes nothing else.
"""

from __future__ import annotations

import getpass
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from core import audit
from core.errors import CoreError, PermissionDenied, ValidationError

log = logging.getLogger(__name__)
_REFUSALS_TO: ContextVar[sqlite3.Connection | None] = ContextVar("boltscope_refusals_to", default=None)

ROLES = ("viewer", "labeler", "trainer", "admin")

# The least role each action needs; a role may do everything the roles before it may.
ACTION_MIN_ROLE = {
    "view": "viewer",
    "diagnose": "viewer",
    "inspect": "viewer",  # every role inspects with the stations there are
    "station": "trainer",  # create and edit stations
    "upload": "labeler",
    "relabel": "labeler",
    "export": "trainer",  # a dataset or a model leaves the server
    "split": "trainer",
    "train": "trainer",
    "cancel": "trainer",
    "promote": "trainer",
    "delete": "admin",
    "restore": "admin",
    "settings": "admin",
    "users": "admin",
    "tokens": "admin",  # API tokens for cameras and other systems
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a name recorded in history and audit, and the role that bounds what they may do."""

    name: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValidationError(
                f"role {self.role!r} is unknown; valid roles: {', '.join(ROLES)}",
                key="error.role_unknown",
                role=self.role,
                valid=", ".join(ROLES),
            )
        if not self.name.strip():
            raise ValidationError("a user name may not be empty", key="error.name_empty")


def can(actor: Actor, action: str) -> bool:
    """True when the actor's role reaches the role the action needs."""
    if action not in ACTION_MIN_ROLE:
        raise ValidationError(
            f"action {action!r} is unknown; valid: {', '.join(ACTION_MIN_ROLE)}",
            key="error.action_unknown",
            action=action,
            valid=", ".join(ACTION_MIN_ROLE),
        )
    return ROLES.index(actor.role) >= ROLES.index(ACTION_MIN_ROLE[action])


@contextmanager
def audit_refusals(conn: sqlite3.Connection) -> Iterator[None]:
    """Within the block, refusals of calls that pass no connection are audited on this one."""
    token = _REFUSALS_TO.set(conn)
    try:
        yield
    finally:
        _REFUSALS_TO.reset(token)


def _audit_refusal(conn: sqlite3.Connection | None, actor: Actor, action: str, need: str) -> None:
    if conn is None:
        return
    if conn.in_transaction:  # the caller's transaction will roll back with the refusal: say so in the log
        log.warning("refusal of %r for %s not audited: raised inside a transaction", action, actor.name)
        return
    try:
        audit.record_now(conn, actor.name, "refused", action, role=actor.role, need=need)
    except (CoreError, sqlite3.Error) as exc:  # a read-only or damaged workspace: the refusal still stands
        log.warning("refusal of %r for %s not audited: %s", action, actor.name, exc)


def require(actor: Actor, action: str, conn: sqlite3.Connection | None = None) -> None:
    """Raise PermissionDenied unless the actor may perform the action; a refusal is audited on conn (or on
    the connection named by audit_refusals)."""
    if not can(actor, action):
        need = ACTION_MIN_ROLE[action]
        _audit_refusal(conn if conn is not None else _REFUSALS_TO.get(), actor, action, need)
        raise PermissionDenied(
            f"user {actor.name!r} has role {actor.role!r}; {action!r} needs role {need!r} or higher",
            key="error.permission",
            user=actor.name,
            role=actor.role,
            need=need,
        )


def local_actor(name: str | None = None) -> Actor:
    """The operator at this machine's shell (CLI, single-user mode): they own the files, so admin."""
    return Actor(name=name or os.environ.get("BOLTSCOPE_USER") or _login_name(), role="admin")


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"
