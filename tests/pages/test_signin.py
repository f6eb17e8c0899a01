"""Sign-in with local accounts (AppTest): refusal, role from the table, sign-out, idle expiry. A successful
sign-in through the form, in a real browser: tests/e2e/test_roles_e2e.py."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from core import audit, auth, users
from tests.conftest import ROOT

ADMIN = auth.Actor("root", "admin")


@pytest.fixture(autouse=True)
def sign_in_required(monkeypatch):
    monkeypatch.delenv("BOLTSCOPE_NO_AUTH", raising=False)


def app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="signin_name").input(name)
    at.text_input(key="signin_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_without_accounts_the_page_says_how_to_make_the_first_admin(ws):
    at = app()
    assert any("user add NAME --role admin" in w.value for w in at.warning)
    assert not at.text_input


def test_wrong_password_is_refused_and_audited(ws):
    users.add(ws.conn, ADMIN, "lee", "labeler", "correct horse")
    at = sign_in(app(), "lee", "wrong horse")
    assert any("Sign-in refused" in e.value for e in at.error)
    assert "actor" not in at.session_state
    failed = audit.query(ws.conn, actions=("sign_in.failed",))
    assert failed[0].target == "lee" and failed[0].details["reason"] == "wrong password"
    assert "horse" not in repr(failed[0].details)  # passwords never reach the log


def signed_in_app(actor: auth.Actor) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["actor"], at.session_state["active_at"] = actor, time.monotonic()
    at.run()
    assert not at.exception, at.exception
    return at


def test_sign_out_returns_to_the_sign_in_page(ws):
    users.add(ws.conn, ADMIN, "kim", "trainer", "long enough")
    at = signed_in_app(auth.Actor("kim", "trainer"))
    assert any("Signed in as kim (trainer)" in c.value for c in at.sidebar.caption)
    at.sidebar.button(key="signout").click().run()
    assert "actor" not in at.session_state
    assert at.text_input(key="signin_name") is not None
    assert any("signed out" in i.value for i in at.info)
    assert audit.query(ws.conn, actions=("sign_out",))[0].user == "kim"


def test_idle_session_expires(ws, monkeypatch):
    monkeypatch.setenv("BOLTSCOPE_SESSION_MINUTES", "1")
    users.add(ws.conn, ADMIN, "kim", "trainer", "long enough")
    at = signed_in_app(auth.Actor("kim", "trainer"))
    at.session_state["active_at"] = at.session_state["active_at"] - 120
    at.run()
    assert "actor" not in at.session_state
    assert any("without activity" in i.value for i in at.info)


def test_a_disabled_account_or_a_new_role_takes_effect_on_the_next_click(ws):
    users.add(ws.conn, ADMIN, "kim", "trainer", "long enough")
    users.add(ws.conn, ADMIN, "boss", "admin", "long enough")
    at = signed_in_app(auth.Actor("kim", "trainer"))
    users.set_role(ws.conn, ADMIN, "kim", "viewer")
    at.run()
    assert at.session_state["actor"].role == "viewer"
    users.set_disabled(ws.conn, ADMIN, "kim", True)
    at.run()
    assert "actor" not in at.session_state
