"""Panels of the Admin page: the accounts table and forms (the audit log: ui/panels/admin_audit.py)."""

from __future__ import annotations

import streamlit as st

from core import auth, signin, users
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
        st.text_input(ui.tr("admin.users.name"), key="admin_new_name")
        _role_choice(st, ui.tr("admin.users.role"), "admin_new_role")
        st.text_input(ui.tr("admin.users.email"), key="admin_new_email")
        st.text_input(
            ui.tr("admin.users.password", n=users.MIN_PASSWORD, m=users.PRIVILEGED_MIN_PASSWORD),
            type="password",
            key="admin_new_password",
            autocomplete="new-password",
        )
        st.form_submit_button(
            ui.tr("admin.users.create"),
            type="primary",
            icon=":material/person_add:",
            on_click=ui.act,
            args=(_create, ws),
        )


def _create(ws: Workspace, me: auth.Actor) -> None:
    """on_click of the form: the values as submitted, read from the session (the form is cleared after)."""
    state = st.session_state
    name, email = state.get("admin_new_name", "").strip(), state.get("admin_new_email", "").strip()
    role = state.get(f"admin_new_role_{ui.lang()}", auth.ROLES[0])
    users.add(ws.conn, me, name, role, state.get("admin_new_password") or None, email or None)
    ui.flash_ok(ui.tr("admin.users.created", name=ui.plain(name), role=ui.tr(f"role.{role}")))


def change_user(ws: Workspace, me: auth.Actor) -> None:
    """The account picked: role, password, unlock, enable or disable. Each button belongs to that account (its
    name travels with the button); the role and password are read when the button's callback runs."""
    st.subheader(ui.tr("admin.users.change"))
    accounts = users.list_users(ws.conn)
    if not accounts:
        return
    name = st.selectbox(ui.tr("admin.users.pick"), [u.name for u in accounts], key="admin_pick")
    user = next(u for u in accounts if u.name == name)
    role = _role_choice(st, ui.tr("admin.users.role"), f"admin_role_{name}", auth.ROLES.index(user.role))
    st.button(
        ui.tr("admin.users.set_role"),
        key="admin_set_role",
        disabled=role == user.role,
        on_click=ui.act,
        args=(_set_role, ws, name),
    )
    password = st.text_input(
        ui.tr("admin.users.new_password"), type="password", key=f"admin_pw_{name}", autocomplete="new-password"
    )
    st.button(
        ui.tr("admin.users.set_password"),
        key="admin_set_password",
        disabled=not password,
        on_click=ui.act,
        args=(_set_password, ws, name),
    )
    if signin.is_locked(ws.conn, name):
        minutes = int(signin.LOCKOUT_WINDOW.total_seconds() // 60)
        st.button(
            ui.tr("admin.users.unlock"),
            key="admin_unlock",
            icon=":material/lock_open:",
            help=ui.tr("admin.users.unlock_help", minutes=minutes),
            on_click=ui.act,
            args=(_unlock, ws, name),
        )
    enable = user.disabled  # one button: enable a disabled account, else disable it
    st.button(
        ui.tr("admin.users.enable" if enable else "admin.users.disable"),
        key="admin_enable" if enable else "admin_disable",
        icon=":material/check_circle:" if enable else ":material/block:",
        on_click=ui.act,
        args=(_set_disabled, ws, name, not enable),
    )


def _done(name: str, text: str) -> None:
    ui.flash_ok(ui.tr("admin.users.done", name=ui.plain(name), change=text))


def _set_role(ws: Workspace, me: auth.Actor, name: str) -> None:
    role = st.session_state.get(f"admin_role_{name}_{ui.lang()}")
    users.set_role(ws.conn, me, name, role)
    _done(name, ui.tr("admin.users.change.role", role=ui.tr(f"role.{role}")))


def _set_password(ws: Workspace, me: auth.Actor, name: str) -> None:
    users.set_password(ws.conn, me, name, st.session_state.get(f"admin_pw_{name}", ""))
    _done(name, ui.tr("admin.users.change.password"))


def _unlock(ws: Workspace, me: auth.Actor, name: str) -> None:
    signin.unlock(ws.conn, me, name)
    _done(name, ui.tr("admin.users.change.unlocked"))


def _set_disabled(ws: Workspace, me: auth.Actor, name: str, disabled: bool) -> None:
    users.set_disabled(ws.conn, me, name, disabled)
    _done(name, ui.tr("admin.users.change.disabled" if disabled else "admin.users.change.enabled"))
