"""Admin page: accounts (add, role, password, disable) and the audit log (filter, CSV)."""

from __future__ import annotations

import streamlit as st

from core import auth
from core.errors import CoreError
from ui import components as ui
from ui.panels import admin as panels
from ui.panels import admin_audit

ws = ui.workspace()
me = ui.actor()
auth.require(me, "users")  # the navigation shows this page to admins only; a stale session stops here

st.title(ui.tr("admin.title"))
ui.flash()
tab_users, tab_audit = st.tabs([ui.tr("admin.tab.users"), ui.tr("admin.tab.audit")], key="admin_tab", on_change="rerun")
with tab_users:
    try:
        panels.users_table(ws)
        left, right = st.columns(2)
        with left:
            panels.add_user(ws, me)
        with right:
            panels.change_user(ws, me)
    except CoreError as exc:
        ui.show_error(exc)
if tab_audit.open:  # the log is read only when its tab is open
    with tab_audit:
        admin_audit.audit_log(ws)
