"""Sign-in page: local account (name + password) or single sign-on when the operator configured it."""

from __future__ import annotations

import streamlit as st

from core import files, signin, users, workspace
from core.errors import CoreError
from ui import components as ui
from ui import session

ws = ui.workspace()
workspace.keep_reserve(ws)  # the last free space, kept for signing in (given back when a sign-in needs it)

st.title(ui.tr("signin.title"))
reason = st.session_state.get("signed_out")
if reason == "expired":
    st.info(ui.tr("signin.expired", minutes=session.idle_minutes()), icon=":material/schedule:")
elif reason == "user":
    st.info(ui.tr("signin.signed_out"), icon=":material/logout:")
elif reason == "changed":
    st.info(ui.tr("session.changed"), icon=":material/manage_accounts:")
if st.session_state.get("sso_refused") is not None:
    st.error(ui.tr("signin.sso_failed", message=ui.error_text(st.session_state.sso_refused)), icon=":material/block:")

low = workspace.disk_low(ws)
if low is not None:
    st.warning(ui.tr("session.disk_low", free_mb=f"{low:,.1f}"), icon=":material/hard_drive:")

if not users.any_users(ws.conn):
    st.warning(ui.tr("signin.no_users"), icon=":material/person_add:")
    st.stop()

left, _ = st.columns([2, 3])
with left:
    with st.form("signin", border=True):
        name = st.text_input(ui.tr("signin.name"), key="signin_name", autocomplete="username")
        password = st.text_input(
            ui.tr("signin.password"), type="password", key="signin_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button(ui.tr("signin.submit"), type="primary", icon=":material/login:")
    if submitted:
        try:
            # the browser's address (None on localhost: all local browsers are one client); proxies hide it
            ip = st.context.ip_address
            client = ip if isinstance(ip, str) and ip else "localhost"
            me = signin.authenticate(ws.conn, name, password, client=client)
            files.retry_with_reserve(ws.layout.root, lambda: session.begin(ws, me))  # a full disk: reserve
        except CoreError as exc:
            st.error(ui.tr("signin.failed", message=ui.error_text(exc)), icon=":material/block:")
        else:
            low = workspace.disk_low(ws)
            if low is not None:  # said again on the page the sign-in opens
                ui.flash_warning(ui.tr("session.disk_low", free_mb=f"{low:,.1f}"))
            st.rerun()  # the same URL again: a deep link opens the page it asked for
    if session.sso_configured():
        if st.button(ui.tr("signin.sso"), icon=":material/badge:", key="signin_sso"):
            st.session_state.pop("sso_refused", None)
            st.login()
