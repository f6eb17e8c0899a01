"""Issue 14, point 4: attempts on a locked name do not extend the lock; check and count are one transaction, so
simultaneous guesses are never checked past the limit; an admin unlocks a name in core and the CLI (the Admin
page's button: tests/ui/test_admin_page.py)."""

from __future__ import annotations

import json
import threading

import pytest

from core import audit, auth, cli, db, signin, users
from core.errors import PermissionDenied, SignInRefused
from core.workspace import open_workspace
from tests.core.test_signin_flood import Clock

ADMIN = auth.Actor("root", "admin")


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(db, "now_iso", fake)
    return fake


def lock(conn, name: str = "root") -> None:
    for _ in range(signin.LOCKOUT_FAILURES):
        with pytest.raises(SignInRefused, match="wrong user name or password"):
            signin.authenticate(conn, name, "guess guess")


def test_attempts_while_locked_do_not_extend_the_lock(ws, clock):
    users.add(ws.conn, ADMIN, "root", "admin", "long enough!")
    lock(ws.conn)
    window = int(signin.LOCKOUT_WINDOW.total_seconds())
    for _ in range(window // 110):  # one wrong guess every ~110 s kept the admin out for ever
        clock.advance(110)
        with pytest.raises(SignInRefused) as refused:
            signin.authenticate(ws.conn, "root", "guess guess")
        assert refused.value.key == "signin.locked"
    clock.advance(window - (window // 110) * 110 + 1)  # the window after the failures that locked it
    assert signin.authenticate(ws.conn, "root", "long enough!") == ADMIN
    locked = [e for e in audit.query(ws.conn, actions=("sign_in.failed",)) if e.details["reason"] == "locked"]
    assert len(locked) == window // 110 and not any("counted" in e.details for e in locked)


def test_the_right_password_is_refused_while_locked(ws, clock):
    users.add(ws.conn, ADMIN, "root", "admin", "long enough!")
    lock(ws.conn)
    with pytest.raises(PermissionDenied, match="too many failed sign-ins"):
        signin.authenticate(ws.conn, "root", "long enough!")
    clock.advance(signin.LOCKOUT_WINDOW.total_seconds() + 1)
    assert signin.authenticate(ws.conn, "root", "long enough!") == ADMIN


def test_thirty_simultaneous_guesses_are_checked_at_most_five_times(ws):
    users.add(ws.conn, ADMIN, "root", "admin", "long enough!")
    n = 30
    start = threading.Barrier(n)
    keys: list[str] = []

    def guess() -> None:
        conn = open_workspace(ws.settings.workspace).conn  # one connection each, as separate server threads
        try:
            start.wait()
            signin.authenticate(conn, "root", "guess guess")
        except SignInRefused as exc:
            keys.append(exc.key)
        finally:
            conn.close()

    threads = [threading.Thread(target=guess) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    limit = signin.LOCKOUT_FAILURES
    assert sorted(keys) == ["signin.locked"] * (n - limit) + ["signin.wrong"] * limit
    checked = [e for e in audit.query(ws.conn, actions=("sign_in.failed",)) if e.details["reason"] == "wrong password"]
    assert len(checked) == signin.LOCKOUT_FAILURES


def test_an_admin_unlocks_a_name_role_checked_and_audited(ws, clock):
    users.add(ws.conn, ADMIN, "root", "admin", "long enough!")
    users.add(ws.conn, ADMIN, "kim", "trainer", "long enough!")
    lock(ws.conn, "kim")
    assert signin.is_locked(ws.conn, "kim")
    with pytest.raises(PermissionDenied):
        signin.unlock(ws.conn, auth.Actor("kim", "trainer"), "kim")
    assert signin.is_locked(ws.conn, "kim")
    clock.advance(1)
    signin.unlock(ws.conn, ADMIN, "kim")
    assert not signin.is_locked(ws.conn, "kim")
    entry = audit.query(ws.conn, actions=("user.enable",))[0]
    assert (entry.user, entry.target, entry.details) == ("root", "kim", {"unlock": True})
    clock.advance(1)
    assert signin.authenticate(ws.conn, "kim", "long enough!") == auth.Actor("kim", "trainer")
    lock(ws.conn, "kim")  # and five new failures lock it again
    assert signin.is_locked(ws.conn, "kim")


def test_the_cli_unlocks_a_name(ws, clock, capsys):
    users.add(ws.conn, ADMIN, "kim", "trainer", "long enough!")
    lock(ws.conn, "kim")
    clock.advance(1)
    assert cli.main(["--workspace", str(ws.settings.workspace), "user", "unlock", "kim", "--user", "root"]) == 0
    assert json.loads(capsys.readouterr().out) == {"name": "kim", "locked": False}
    assert signin.authenticate(ws.conn, "kim", "long enough!") == auth.Actor("kim", "trainer")
    assert cli.main(["--workspace", str(ws.settings.workspace), "user", "unlock", "nobody", "--user", "root"]) != 0
    assert "user 'nobody' does not exist" in capsys.readouterr().err
