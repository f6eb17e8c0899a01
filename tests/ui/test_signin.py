"""Sign-in with local accounts (AppTest): refusal, a server-side session and its cookie hand-off, sign-out,
idle expiry, a changed account, deep links. Cookies across reloads, tabs and restarts, in a real browser:
tests/e2e/test_sessions_e2e.py; a sign-in through the form there and in tests/e2e/test_roles_e2e.py."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from core import audit, auth, sessions, signin, users
from tests.conftest import ROOT

ADMIN = auth.Actor("root", "admin")


@pytest.fixture(autouse=True)
def sign_in_required(monkeypatch):
    monkeypatch.delenv("BOLTSCOPE_NO_AUTH", raising=False)


def app(url_path: str = "") -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if url_path:  # as when the browser opens http://host/<url_path> directly
        at._page_hash = calc_hash(url_path)
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
    assert "actor" not in at.session_state and "session_id" not in at.session_state
    failed = audit.query(ws.conn, actions=("sign_in.failed",))
    assert failed[0].target == "lee" and failed[0].details["reason"] == "wrong password"
    assert "horse" not in repr(failed[0].details)  # passwords never reach the log


def test_a_sign_in_opens_a_server_side_session_and_hands_the_browser_a_one_time_code(ws):
    users.add(ws.conn, ADMIN, "lee", "labeler", "correct horse")
    at = sign_in(app(), "lee", "correct horse")
    assert any("Signed in as lee" in c.value for c in at.sidebar.caption)
    [row] = ws.conn.execute("SELECT * FROM sessions").fetchall()
    assert at.session_state["session_id"] == row["id"] and row["user"] == "lee" and row["token_hash"] is None
    [script] = [h.proto.body for h in at.sidebar.html if "auth/session" in h.proto.body]
    assert '"POST"' in script and row["handoff_hash"] and "?" not in script.split("auth/session")[1][:2]
    code = script.split('"POST", body: "')[1].split('"')[0]
    assert sessions.redeem(ws.conn, code) and sessions.redeem(ws.conn, code) is None
    at.run()
    assert not [h for h in at.sidebar.html if "auth/session" in h.proto.body]  # handed over once


def signed_in_app(actor: auth.Actor, url_path: str = "") -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    from core.workspace import open_workspace

    ws = open_workspace()
    at.session_state["session_id"] = sessions.create(ws.conn, actor).session_id
    ws.close()
    if url_path:
        at._page_hash = calc_hash(url_path)
    at.run()
    assert not at.exception, at.exception
    return at


def test_sign_out_ends_the_session_and_returns_to_the_sign_in_page(ws):
    users.add(ws.conn, ADMIN, "kim", "trainer", "long enough!")
    at = signed_in_app(auth.Actor("kim", "trainer"))
    assert any("Signed in as kim (trainer)" in c.value for c in at.sidebar.caption)
    sid = at.session_state["session_id"]
    at.sidebar.button(key="signout").click().run()
    assert "actor" not in at.session_state and "session_id" not in at.session_state
    assert at.text_input(key="signin_name") is not None
    assert any("signed out" in i.value for i in at.info)
    assert ws.conn.execute("SELECT end_reason FROM sessions WHERE id = ?", (sid,)).fetchone()[0] == "user"
    assert audit.query(ws.conn, actions=("sign_out",))[0].user == "kim"
    assert any('"DELETE"' in h.proto.body for h in at.sidebar.html)  # the browser drops its cookie


def test_idle_session_expires(ws, monkeypatch):
    monkeypatch.setenv("BOLTSCOPE_SESSION_MINUTES", "1")
    users.add(ws.conn, ADMIN, "kim", "trainer", "long enough!")
    at = signed_in_app(auth.Actor("kim", "trainer"))
    ws.conn.execute("UPDATE sessions SET last_seen = '2020-01-01T00:00:00.000Z'")
    at.run()
    assert "actor" not in at.session_state
    assert any("without activity" in i.value for i in at.info)
    assert audit.query(ws.conn, actions=("sign_out",))[0].details == {"reason": "idle"}


def test_a_new_role_or_a_disabled_account_ends_the_session_at_the_next_click(ws):
    users.add(ws.conn, ADMIN, "kim", "trainer", "long enough!")
    users.add(ws.conn, ADMIN, "boss", "admin", "long enough!")
    at = signed_in_app(auth.Actor("kim", "trainer"))
    users.set_role(ws.conn, ADMIN, "kim", "viewer")
    at.run()
    assert "actor" not in at.session_state and any("changed your account" in i.value for i in at.info)
    at = sign_in(at, "kim", "long enough!")
    assert at.session_state["actor"] == auth.Actor("kim", "viewer")
    users.set_disabled(ws.conn, ADMIN, "kim", True)
    at.run()
    assert "actor" not in at.session_state


def test_a_deep_link_signs_in_first_then_opens_the_page_it_asked_for(ws):
    users.add(ws.conn, ADMIN, "kim", "trainer", "long enough!")
    at = app("training")
    assert at.text_input(key="signin_name") is not None
    sign_in(at, "kim", "long enough!")
    assert [t.value for t in at.title] == ["Train"]
    assert at._finished_page_script_hash == calc_hash("training")


def test_a_link_to_a_page_the_role_may_not_use_says_so_in_the_users_language(ws):
    users.add(ws.conn, ADMIN, "vic", "viewer", "long enough!")
    at = signed_in_app(auth.Actor("vic", "viewer"), "training")
    assert any("needs the role" in w.value and "Train" in w.value for w in at.warning)
    at.sidebar.radio(key="lang").set_value("ko").run()
    assert any("역할이 필요합니다" in w.value for w in at.warning)


def test_the_page_passes_its_client_and_shows_the_back_off_and_malformed_names_translated(ws):
    users.add(ws.conn, ADMIN, "lee", "labeler", "correct horse")
    at = app()
    at.sidebar.radio(key="lang").set_value("ko").run()
    sign_in(at, "x" * 100_000, "whatever")
    assert any("1~64자" in e.value for e in at.error), [e.value for e in at.error]
    for _ in range(signin.BACKOFF_AFTER - 1):
        sign_in(at, "lee", "wrong horse")
    failed = audit.query(ws.conn, actions=("sign_in.failed",))
    assert {e.details.get("client") for e in failed} == {"localhost"}  # st.context.ip_address is None on localhost
    sign_in(at, "lee", "correct horse")
    assert any("초 뒤에 다시 시도하세요" in e.value for e in at.error), [e.value for e in at.error]
    assert "actor" not in at.session_state
