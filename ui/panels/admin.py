"""Panels of the Admin page: the accounts table and forms (the audit log: ui/panels/admin_audit.py)."""

from __future__ import annotations

import streamlit as st

from core import auth, signin, users
from core.errors import CoreError
from core.workspace import Workspace
from ui import components as ui


def users_table(ws: Workspace) -> None:
    rows = [
        {
            ui.tr("admin.users.col.name"): u.name,
            ui.tr("admin.users.col.role"): ui.tr(f"role.{u.role}"),
            ui.tr("admin.users.col.email"): u.email or ui.tr("common.none"),
            ui.tr("admin.users.col.disabled"): u.disabled,
            ui.tr("admin.users.col.locked"): signin.is_locked(ws.conn, u.name),
            ui.tr("admin.users.col.password"): u.has_password,
            ui.tr("admin.users.col.last"): ui.local_time(u.last_sign_in),
            ui.tr("admin.users.col.created"): f"{ui.local_time(u.created_at)} · {u.created_by}",
        }
        for u in users.list_users(ws.conn)
    ]
    ui.table(rows, empty_key="admin.users.empty", key="admin_users")


def _role_choice(where, label: str, key: str, index: int = 0) -> str:
    return ui.choice(where, label, list(auth.ROLES), key, lambda r: ui.tr(f"role.{r}"), index=index)


def add_user(ws: Workspace, me: auth.Actor) -> None:
    st.subheader(ui.tr("admin.users.add"))
    with st.form("admin_add_user", clear_on_submit=True):
        name = st.text_input(ui.tr("admin.users.name"), key="admin_new_name")
        role = _role_choice(st, ui.tr("admin.users.role"), "admin_new_role")
        email = st.text_input(ui.tr("admin.users.email"), key="admin_new_email")
        password = st.text_input(
            ui.tr("admin.users.password", n=users.MIN_PASSWORD, m=users.PRIVILEGED_MIN_PASSWORD),
            type="password",
            key="admin_new_password",
            autocomplete="new-password",
        )
        if st.form_submit_button(ui.tr("admin.users.create"), type="primary", icon=":material/person_add:"):
            try:
                users.add(ws.conn, me, name.strip(), role, password or None, email.strip() or None)
                ui.flash_ok(ui.tr("admin.users.created", name=ui.plain(name.strip()), role=ui.tr(f"role.{role}")))
                st.rerun()
            except CoreError as exc:
                ui.show_error(exc)


def change_user(ws: Workspace, me: auth.Actor) -> None:
    st.subheader(ui.tr("admin.users.change"))
    accounts = users.list_users(ws.conn)
    if not accounts:
        return
    name = st.selectbox(ui.tr("admin.users.pick"), [u.name for u in accounts], key="admin_pick")
    user = next(u for u in accounts if u.name == name)
    role = _role_choice(st, ui.tr("admin.users.role"), f"admin_role_{name}", auth.ROLES.index(user.role))
    if st.button(ui.tr("admin.users.set_role"), key="admin_set_role", disabled=role == user.role):
        _apply(
            lambda: users.set_role(ws.conn, me, name, role),
            name,
            ui.tr("admin.users.change.role", role=ui.tr(f"role.{role}")),
        )
    password = st.text_input(
        ui.tr("admin.users.new_password"), type="password", key=f"admin_pw_{name}", autocomplete="new-password"
    )
    if st.button(ui.tr("admin.users.set_password"), key="admin_set_password", disabled=not password):
        _apply(lambda: users.set_password(ws.conn, me, name, password), name, ui.tr("admin.users.change.password"))
    if signin.is_locked(ws.conn, name):
        minutes = int(signin.LOCKOUT_WINDOW.total_seconds() // 60)
        if st.button(
            ui.tr("admin.users.unlock"),
            key="admin_unlock",
            icon=":material/lock_open:",
            help=ui.tr("admin.users.unlock_help", minutes=minutes),
        ):
            _apply(lambda: signin.unlock(ws.conn, me, name), name, ui.tr("admin.users.change.unlocked"))
    if user.disabled:
        if st.button(ui.tr("admin.users.enable"), key="admin_enable", icon=":material/check_circle:"):
            _apply(lambda: users.set_disabled(ws.conn, me, name, False), name, ui.tr("admin.users.change.enabled"))
    elif st.button(ui.tr("admin.users.disable"), key="admin_disable", icon=":material/block:"):
        _apply(lambda: users.set_disabled(ws.conn, me, name, True), name, ui.tr("admin.users.change.disabled"))


def _apply(change, name: str, text: str) -> None:
    try:
        change()
        ui.flash_ok(ui.tr("admin.users.done", name=ui.plain(name), change=text))
        st.rerun()
    except CoreError as exc:
        ui.show_error(exc)
