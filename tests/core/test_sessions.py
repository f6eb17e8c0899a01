"""Server-side sessions: only hashes are stored, the hand-off code works once and briefly, idle expiry,
revocation (sign-out, role change, disabled account, password reset), and the signed cookie."""

from __future__ import annotations

import stat
from datetime import timedelta

import pytest

from core import audit, auth, sessions, users

ADMIN = auth.Actor("root", "admin")
IDLE = timedelta(minutes=30)


@pytest.fixture
def kim(ws) -> auth.Actor:
    users.add(ws.conn, auth.local_actor("operator"), "root", "admin", "long enough!")
    users.add(ws.conn, ADMIN, "kim", "trainer", "long enough!")
    return auth.Actor("kim", "trainer")


def signed_in(ws, actor: auth.Actor) -> tuple[int, str]:
    handoff = sessions.create(ws.conn, actor)
    token = sessions.redeem(ws.conn, handoff.code)
    assert token is not None
    return handoff.session_id, token


def test_only_hashes_of_the_token_and_the_code_are_stored(ws, kim):
    handoff = sessions.create(ws.conn, kim)
    token = sessions.redeem(ws.conn, handoff.code)
    row = dict(ws.conn.execute("SELECT * FROM sessions WHERE id = ?", (handoff.session_id,)).fetchone())
    stored = repr(row)
    assert token and token not in stored and handoff.code not in stored
    assert row["token_hash"] == sessions._hash(token) and len(row["token_hash"]) == 64
    dump = "\n".join(ws.conn.iterdump())
    assert token not in dump and handoff.code not in dump
    assert sessions.find(ws.conn, token) == handoff.session_id


def test_the_handoff_code_works_once_and_only_briefly(ws, kim, monkeypatch):
    handoff = sessions.create(ws.conn, kim)
    assert sessions.redeem(ws.conn, handoff.code) is not None
    assert sessions.redeem(ws.conn, handoff.code) is None  # spent
    assert sessions.redeem(ws.conn, "made up") is None and sessions.redeem(ws.conn, "") is None
    late = sessions.create(ws.conn, kim)
    monkeypatch.setattr(sessions, "_now", lambda: sessions.datetime.now(sessions.UTC) + timedelta(seconds=31))
    assert sessions.redeem(ws.conn, late.code) is None  # expired
    monkeypatch.undo()
    assert sessions.redeem(ws.conn, late.code) is None  # and spent by the failed attempt


def test_an_active_session_gives_the_current_account_and_idle_ones_expire(ws, kim, monkeypatch):
    sid, _ = signed_in(ws, kim)
    assert sessions.lookup(ws.conn, sid, IDLE) == sessions.Status("active", kim)
    later = sessions._now() + timedelta(minutes=20)
    monkeypatch.setattr(sessions, "_now", lambda: later)
    assert sessions.lookup(ws.conn, sid, IDLE).state == "active"  # and touched: the idle clock restarts
    monkeypatch.setattr(sessions, "_now", lambda: later + timedelta(minutes=25))
    assert sessions.lookup(ws.conn, sid, IDLE).state == "active"
    monkeypatch.setattr(sessions, "_now", lambda: later + timedelta(minutes=56))
    assert sessions.lookup(ws.conn, sid, IDLE) == sessions.Status("expired", reason="idle")
    assert sessions.lookup(ws.conn, sid, IDLE) == sessions.Status("ended", reason="idle")
    [entry] = audit.query(ws.conn, actions=("sign_out",))
    assert entry.user == "kim" and entry.details == {"reason": "idle"}


def test_a_live_views_redraw_neither_restarts_the_idle_clock_nor_outlives_it(ws, kim, monkeypatch):
    """Issue 14, point 2: a screen left open redraws itself (touch_it=False); that is not the user acting."""
    sid, _ = signed_in(ws, kim)
    later = sessions._now() + timedelta(minutes=20)
    monkeypatch.setattr(sessions, "_now", lambda: later)
    assert sessions.lookup(ws.conn, sid, IDLE, touch_it=False).state == "active"  # not touched
    monkeypatch.setattr(sessions, "_now", lambda: later + timedelta(minutes=11))
    assert sessions.lookup(ws.conn, sid, IDLE, touch_it=False) == sessions.Status("expired", reason="idle")


def test_sign_out_ends_the_session_for_every_tab(ws, kim):
    sid, token = signed_in(ws, kim)
    sessions.revoke(ws.conn, sid)
    sessions.revoke(ws.conn, sid)  # a second tab signing out too: one audit entry
    assert sessions.lookup(ws.conn, sessions.find(ws.conn, token), IDLE) == sessions.Status("ended", reason="user")
    assert len(audit.query(ws.conn, actions=("sign_out",))) == 1
    other = sessions.create(ws.conn, kim)
    sessions.revoke(ws.conn, other.session_id)
    assert sessions.redeem(ws.conn, other.code) is None  # a code of an ended session gives no cookie


@pytest.mark.parametrize("change", ["role", "disabled", "password"])
def test_a_role_change_a_disabled_account_or_a_password_reset_ends_every_session(ws, kim, change):
    first, _ = signed_in(ws, kim)
    second, _ = signed_in(ws, kim)
    mine, _ = signed_in(ws, ADMIN)
    if change == "role":
        users.set_role(ws.conn, ADMIN, "kim", "viewer")
    elif change == "disabled":
        users.set_disabled(ws.conn, ADMIN, "kim", True)
    else:
        users.set_password(ws.conn, ADMIN, "kim", "another long one")
    for sid in (first, second):
        assert sessions.lookup(ws.conn, sid, IDLE) == sessions.Status("ended", reason=change)
    assert sessions.lookup(ws.conn, mine, IDLE).state == "active"
    forced = [e for e in audit.query(ws.conn, actions=("sign_out",)) if e.details.get("forced")]
    assert [(e.user, e.details["reason"], e.details["sessions"]) for e in forced] == [("kim", change, 2)]


def test_the_same_role_again_or_a_changed_own_password_keeps_the_session(ws, kim):
    sid, _ = signed_in(ws, kim)
    users.set_role(ws.conn, ADMIN, "kim", "trainer")
    users.set_password(ws.conn, kim, "kim", "my new long one")
    assert sessions.lookup(ws.conn, sid, IDLE).state == "active"


def test_the_cookie_is_signed_and_a_tampered_one_is_refused(ws, kim):
    key = sessions.load_secret(ws.layout.root)
    _, token = signed_in(ws, kim)
    value = sessions.sign(key, token)
    assert sessions.verify(key, value) == token
    signature = value.partition(".")[2]
    forged = [
        "x" + value,
        value[:-1] + ("0" if value[-1] != "0" else "1"),
        token,
        token + ".",
        "." + signature,
        sessions.sign(b"k" * 32, token),
        f"{token}.{signature}\u00e9",
        "",
        None,
    ]
    assert [sessions.verify(key, bad) for bad in forged] == [None] * len(forged)


def test_the_key_is_made_once_readable_by_the_owner_only(ws):
    key = sessions.load_secret(ws.layout.root)
    path = ws.layout.root / sessions.SECRET_FILE
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sessions.load_secret(ws.layout.root) == key
    path.chmod(0o644)
    assert sessions.load_secret(ws.layout.root) == key and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in ws.layout.root.iterdir() if p.name.startswith(".tmp-")]


def test_the_language_chosen_in_a_session_is_kept_with_it(ws, kim):
    handoff = sessions.create(ws.conn, kim, lang="ko")
    assert sessions.lookup(ws.conn, handoff.session_id, IDLE).lang == "ko"
    sessions.set_lang(ws.conn, handoff.session_id, "en")
    assert sessions.lookup(ws.conn, handoff.session_id, IDLE).lang == "en"
