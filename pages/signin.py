"""Sign-in page: local account (name + password) or single sign-on when the operator configured it."""

from __future__ import annotations

import streamlit as st

from core import users
from core.errors import CoreError, SignInRefused
from pages import components as ui
from pages import session

ws = ui.workspace()

st.title(ui.tr("signin.title"))
reason = st.session_state.get("signed_out")
if reason == "expired":
    st.info(ui.tr("signin.expired", minutes=session.idle_minutes()), icon=":material/schedule:")
elif reason == "user":
    st.info(ui.tr("signin.signed_out"), icon=":material/logout:")
if st.session_state.get("sso_refused"):
    st.error(ui.tr("signin.sso_failed", message=st.session_state.sso_refused), icon=":material/block:")

if not users.any_users(ws.conn):
    st.warning(ui.tr("signin.no_users"), icon=":material/person_add:")
    st.stop()

left, _ = st.columns([2, 3])
with left:
    with st.form("signin", border=True):
        name = st.text_input(ui.tr("signin.name"), key="signin_name", autocomplete="username")
        password = st.text_input(ui.tr("signin.password"), type="password", key="signin_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button(ui.tr("signin.submit"), type="primary", icon=":material/login:")
    if submitted:
        try:
            session.start(users.authenticate(ws.conn, name, password))
            st.rerun()
        except SignInRefused as exc:
            st.error(ui.tr("signin.failed", message=ui.tr(exc.reason_key, **exc.detail)), icon=":material/block:")
        except CoreError as exc:
            st.error(ui.tr("signin.failed", message=str(exc)), icon=":material/block:")
    if session.sso_configured():
        if st.button(ui.tr("signin.sso"), icon=":material/badge:", key="signin_sso"):
            st.session_state.pop("sso_refused", None)
            st.login()
