"""Who is signed in: local accounts (core.users), optional single sign-on (st.login), idle expiry, and the
explicit single-user mode (`--no-auth` or BOLTSCOPE_NO_AUTH=1) in which everyone acts as the local admin."""

from __future__ import annotations

import os
import sys
import time

import streamlit as st

from core import audit, auth, users
from core.errors import CoreError
from core.workspace import Workspace


def auth_off() -> bool:
    return "--no-auth" in sys.argv[1:] or os.environ.get("BOLTSCOPE_NO_AUTH", "").lower() in ("1", "true", "yes")


def idle_minutes() -> int:
    try:
        return max(1, int(os.environ.get("BOLTSCOPE_SESSION_MINUTES", "480")))  # one shift
    except ValueError:
        return 480


def sso_configured() -> bool:
    """st.login needs an [auth] section in .streamlit/secrets.toml; without one, local accounts only."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - Streamlit raises its own error type when there is no secrets file
        return False


def signed_in(ws: Workspace) -> auth.Actor | None:
    """The acting user for this run, or None (show the sign-in page). Each run re-reads the account, so a
    changed role or a disabled account takes effect at once; a session idle too long ends."""
    me: auth.Actor | None = st.session_state.get("actor")
    if auth_off():
        if me is None:
            me = st.session_state.actor = auth.local_actor()
        return me
    if me is None:
        return _from_sso(ws)
    if time.monotonic() - st.session_state.get("active_at", 0.0) > idle_minutes() * 60:
        sign_out(ws, expired=True)
        return None
    current = users.current(ws.conn, me)
    if current is None:
        sign_out(ws)
        return None
    st.session_state.actor, st.session_state.active_at = current, time.monotonic()
    return current


def _from_sso(ws: Workspace) -> auth.Actor | None:
    if not sso_configured() or not getattr(st.user, "is_logged_in", False):
        return None
    if st.session_state.get("sso_refused"):
        return None
    try:
        me = users.actor_for_identity(ws.conn, st.user.get("email"), st.user.get("name"))
    except CoreError as exc:
        st.session_state.sso_refused = str(exc)
        return None
    start(me)
    return me


def start(me: auth.Actor) -> None:
    st.session_state.actor, st.session_state.active_at = me, time.monotonic()
    st.session_state.pop("signed_out", None)


def sign_out(ws: Workspace, expired: bool = False) -> None:
    me = st.session_state.pop("actor", None)
    if me is not None:
        audit.record_now(ws.conn, me.name, "sign_out", me.name, reason="idle" if expired else "user")
    st.session_state.signed_out = "expired" if expired else "user"
    if sso_configured() and getattr(st.user, "is_logged_in", False) and not expired:
        st.logout()
