"""Who is signed in: server-side sessions (core.sessions) found again through a signed HttpOnly cookie that
serve.py sets, local accounts (core.users), optional single sign-on (st.login), and the explicit single-user
mode (`--no-auth` or BOLTSCOPE_NO_AUTH=1) in which everyone acts as the local admin.

Each run asks the sessions table about this tab's session, so a sign-out in another tab, a role change or a
disabled account ends it at the tab's next action, and an idle one expires (BOLTSCOPE_SESSION_MINUTES).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import streamlit as st

from core import auth, sessions, users
from core.errors import CoreError
from core.workspace import Workspace
from ui import components as ui

SESSION_PATH = "auth/session"  # the route serve.py adds next to Streamlit's own (under server.baseUrlPath)
# The browser, not the script, asks the server for the cookie: a script cannot set an HttpOnly cookie. The
# one-time code travels in the body of a same-origin POST, never in a URL.
_HANDOFF_JS = """<script>
fetch(%s, {method: %s, body: %s, credentials: "same-origin", cache: "no-store",
           headers: {"Content-Type": "text/plain"}}).catch(() => {});
</script>"""
_REASONS = {"idle": "expired", "user": "user"}  # why a session ended -> what the sign-in page says


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


@st.cache_resource(show_spinner=False)
def _key(root: str) -> bytes:
    return sessions.load_secret(Path(root))


def signed_in(ws: Workspace) -> auth.Actor | None:
    """The acting user for this run, or None (show the sign-in page): this tab's session, else the one the
    browser's cookie names (a reload, a new tab, a server restart), else single sign-on."""
    if auth_off():
        me = st.session_state.get("actor")
        if me is None:
            me = st.session_state.actor = auth.local_actor()
        return me
    session_id = st.session_state.get("session_id") or _from_cookie(ws)
    if session_id is not None:
        status = sessions.lookup(ws.conn, session_id, timedelta(minutes=idle_minutes()))
        if status.actor is not None:
            if "session_id" not in st.session_state and status.lang and "lang" not in st.session_state:
                st.session_state.lang = status.lang  # a reload or a new tab: the language chosen before
            st.session_state.session_id, st.session_state.actor = session_id, status.actor
            return status.actor
        _forget(status.reason)
    return _from_sso(ws)


def current(ws: Workspace, touch_it: bool = True) -> auth.Actor | None:
    """The acting user now, asked again of the sessions and users tables: for a button's callback (Streamlit
    runs it before app.py, with the actor of the run that drew the button) and a live fragment's rerun (which
    never passes through app.py). None when this tab's session has ended, expired or changed hands; the tab
    then forgets it, so the next full run shows the sign-in with the reason. A live view's redraw passes
    touch_it=False: it is not the user acting, so it neither restarts the idle clock nor keeps a session open."""
    if auth_off():
        return st.session_state.get("actor") or auth.local_actor()
    session_id = st.session_state.get("session_id")
    if session_id is None:
        return None
    status = sessions.lookup(ws.conn, session_id, timedelta(minutes=idle_minutes()), touch_it)
    if status.actor is None:
        _forget(status.reason)
        return None
    st.session_state.actor = status.actor
    return status.actor


def remember_lang(ws: Workspace) -> None:
    """The language radio's callback: a reload or another tab of this session shows the same language."""
    if st.session_state.get("session_id") is not None:
        sessions.set_lang(ws.conn, st.session_state.session_id, st.session_state.lang)


def _from_cookie(ws: Workspace) -> int | None:
    """The session named by the cookie this tab's connection brought; a forged or altered one names none."""
    token = sessions.verify(_key(str(ws.layout.root)), st.context.cookies.get(sessions.COOKIE))
    return sessions.find(ws.conn, token) if token else None


def _forget(reason: str | None) -> None:
    st.session_state.pop("actor", None)
    st.session_state.pop("session_id", None)
    if reason is not None:
        st.session_state.signed_out = _REASONS.get(reason, "changed")


def _from_sso(ws: Workspace) -> auth.Actor | None:
    if not sso_configured() or not getattr(st.user, "is_logged_in", False):
        return None
    if st.session_state.get("sso_refused") is not None:
        return None
    try:
        me = users.actor_for_identity(ws.conn, st.user.get("email"), st.user.get("name"))
    except CoreError as exc:
        st.session_state.sso_refused = exc
        return None
    begin(ws, me, "sso")
    return me


def begin(ws: Workspace, me: auth.Actor, method: str = "password") -> None:
    """A new server-side session for someone who has just proven who they are; the browser gets its cookie
    at the next run (cookie_script)."""
    handoff = sessions.create(ws.conn, me, method, st.session_state.get("lang"))
    st.session_state.session_id, st.session_state.actor = handoff.session_id, me
    st.session_state.cookie = ("POST", handoff.code)
    st.session_state.pop("signed_out", None)


def sign_out(ws: Workspace) -> None:
    """End this session for every tab (each notices at its next action) and drop the browser's cookie."""
    session_id = st.session_state.get("session_id")
    if session_id is not None:
        sessions.revoke(ws.conn, session_id, "user")
    _forget("user")
    st.session_state.cookie = ("DELETE", "")
    if sso_configured() and getattr(st.user, "is_logged_in", False):
        st.logout()


def cookie_script(ws: Workspace) -> None:
    """After a sign-in or sign-out: the browser asks serve.py to set (or drop) the session cookie. The sign-in's
    script is shown again in each run until the browser has redeemed its code (a run cut short by a page switch
    may never reach the browser); the browser runs it once, as it stays the same element."""
    pending = st.session_state.get("cookie")
    if pending is None or auth_off():
        return
    method, code = pending
    if method == "DELETE" or not sessions.handoff_open(ws.conn, code):
        st.session_state.pop("cookie")
        if method != "DELETE":
            return
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    url = f"/{base}/{SESSION_PATH}" if base else f"/{SESSION_PATH}"
    st.html(_HANDOFF_JS % (json.dumps(url), json.dumps(method), json.dumps(code)), unsafe_allow_javascript=True)


def not_allowed(title: str, action: str) -> Callable[[], None]:
    """A page for a link to a page the signed-in role may not use: says so in the user's language, instead of
    Streamlit's English "Page not found"."""

    def page() -> None:
        me = ui.actor()
        need = auth.ACTION_MIN_ROLE[action]
        st.warning(
            ui.tr(
                "session.not_allowed",
                page=ui.tr(title),
                need=ui.tr(f"role.{need}"),
                name=ui.plain(me.name),
                role=ui.tr(f"role.{me.role}"),
            ),
            icon=":material/block:",
        )
        st.caption(ui.tr("session.not_allowed_help"))

    return page
