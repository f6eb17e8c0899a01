"""Roles and the permission check every mutating core call makes (sign-in itself lives in the app)."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

from core.errors import PermissionDenied, ValidationError

ROLES = ("viewer", "labeler", "trainer", "admin")

# The least role each action needs; a role may do everything the roles before it may.
ACTION_MIN_ROLE = {
    "view": "viewer",
    "diagnose": "viewer",
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
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a name recorded in history and audit, and the role that bounds what they may do."""

    name: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValidationError(f"role {self.role!r} is unknown; valid roles: {', '.join(ROLES)}",
                                  key="error.role_unknown", role=self.role, valid=", ".join(ROLES))
        if not self.name.strip():
            raise ValidationError("a user name may not be empty", key="error.name_empty")


def can(actor: Actor, action: str) -> bool:
    """True when the actor's role reaches the role the action needs."""
    if action not in ACTION_MIN_ROLE:
        raise ValidationError(f"action {action!r} is unknown; valid: {', '.join(ACTION_MIN_ROLE)}",
                              key="error.action_unknown", action=action, valid=", ".join(ACTION_MIN_ROLE))
    return ROLES.index(actor.role) >= ROLES.index(ACTION_MIN_ROLE[action])


def require(actor: Actor, action: str) -> None:
    """Raise PermissionDenied unless the actor may perform the action."""
    if not can(actor, action):
        need = ACTION_MIN_ROLE[action]
        raise PermissionDenied(
            f"user {actor.name!r} has role {actor.role!r}; {action!r} needs role {need!r} or higher",
            key="error.permission", user=actor.name, role=actor.role, need=need,
        )


def local_actor(name: str | None = None) -> Actor:
    """The operator at this machine's shell (CLI, single-user mode): they own the files, so admin."""
    return Actor(name=name or os.environ.get("BOLTSCOPE_USER") or _login_name(), role="admin")


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"
