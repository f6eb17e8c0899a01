"""AppTest: the Admin page adds accounts, changes roles and filters and exports the audit log."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core import audit, auth, signin, users
from core.errors import SignInRefused
from tests.conftest import ROOT

ADMIN = auth.Actor("root", "admin")


def admin_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["actor"] = ADMIN
    at.run()
    at.switch_page("pages/admin.py").run()
    assert not at.exception, at.exception
    return at


def test_add_an_account_and_change_its_role(ws):
    at = admin_page()
    at.text_input(key="admin_new_name").input("kim")
    at.selectbox(key="admin_new_role_en").select("trainer")
    at.text_input(key="admin_new_password").input("long enough!")
    next(b for b in at.button if "Create" in b.label).click().run()
    assert not at.exception, at.exception
    assert users.get(ws.conn, "kim").role == "trainer"
    at.selectbox(key="admin_pick").select("kim").run()
    at.selectbox(key="admin_role_kim_en").select("viewer").run()
    at.button(key="admin_set_role").click().run()
    assert users.get(ws.conn, "kim").role == "viewer"
    assert any("role is now viewer" in s.value for s in at.success)


def test_a_too_short_password_is_refused_in_plain_words(ws):
    at = admin_page()
    at.text_input(key="admin_new_name").input("kim")
    at.text_input(key="admin_new_password").input("short")
    next(b for b in at.button if "Create" in b.label).click().run()
    assert users.get(ws.conn, "kim") is None
    assert any("at least 8 characters" in e.value for e in at.error)


def test_audit_filters_and_csv(ws):
    audit.record_now(ws.conn, "lee", "relabel", "#1", label="broken")
    audit.record_now(ws.conn, "kim", "train", "job 1")
    at = admin_page()
    assert not any("action" in d.value.columns for d in at.dataframe), "the log is read only when its tab is open"
    at.session_state["admin_tab"] = "Audit log"
    at.run()
    table = at.dataframe[-1].value
    assert set(table["action"]) == {"relabel", "training started"}
    at.multiselect(key="audit_actions_en").select("train").run()
    table = at.dataframe[-1].value
    assert list(table["user"]) == ["kim"] and list(table["target"]) == ["job 1"]
    assert any(b.label == "Download as CSV" for b in at.get("download_button"))
    at.text_input(key="audit_text").input("nothing like it").run()
    assert not at.exception, at.exception
    assert not any("action" in d.value.columns for d in at.dataframe), "no empty grid"
    assert any("No audit entries match these filters." in c.value for c in at.caption)


def test_a_locked_account_is_shown_and_unlocked_from_the_accounts_panel(ws):
    users.add(ws.conn, ADMIN, "root", "admin", "long enough!")
    users.add(ws.conn, ADMIN, "kim", "trainer", "long enough!")
    for _ in range(signin.LOCKOUT_FAILURES):
        with pytest.raises(SignInRefused):
            signin.authenticate(ws.conn, "kim", "guess guess")
    at = admin_page()
    table = at.dataframe[0].value
    assert dict(zip(table["name"], table["locked"], strict=True)) == {"kim": True, "root": False}
    at.selectbox(key="admin_pick").select("root").run()
    assert not [b for b in at.button if b.key == "admin_unlock"], "root is not locked"
    at.selectbox(key="admin_pick").select("kim").run()
    at.button(key="admin_unlock").click().run()
    assert not at.exception, at.exception
    assert not signin.is_locked(ws.conn, "kim")
    assert any("kim: sign-in unlocked" in s.value for s in at.success)
    entry = audit.query(ws.conn, actions=("user.enable",))[0]
    assert (entry.user, entry.target, entry.details) == ("root", "kim", {"unlock": True})
    assert not [b for b in at.button if b.key == "admin_unlock"]
