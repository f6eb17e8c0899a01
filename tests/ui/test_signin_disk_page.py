"""The sign-in page on a nearly full disk (a real small tmpfs): it says the disk is nearly full, the sign-in
still succeeds (the workspace's reserve is given back for it), and the page it opens says it again."""

from __future__ import annotations

import contextlib
import sqlite3

from streamlit.testing.v1 import AppTest

from core import users, workspace
from core.workspace import open_workspace
from tests.conftest import ROOT
from tests.core import test_signin_disk as disk

tiny_disk = disk.tiny_disk  # the fixture: a 4 MB tmpfs
ADMIN, fill = disk.ADMIN, disk.fill


def test_sign_in_works_on_a_full_disk_and_says_what_is_wrong(tiny_disk, monkeypatch):
    """A server (re)started on a full disk: it cannot even open the database (SQLite cannot make its -shm file)
    until the reserve is given back; then the page says what is wrong and the sign-in goes through."""
    monkeypatch.delenv("BOLTSCOPE_NO_AUTH", raising=False)
    monkeypatch.setenv("BOLTSCOPE_WORKSPACE", str(tiny_disk / "ws"))
    ws = open_workspace()
    users.add(ws.conn, ADMIN, "kim", "labeler", "correct horse")
    with contextlib.suppress(AttributeError):  # the page makes it too, at its first view while there is room
        workspace.keep_reserve(ws)
    ws.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ws.close()
    fill(tiny_disk)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert any(
        "디스크가 거의 가득 찼습니다" in w.value for w in at.sidebar.radio(key="lang").set_value("ko").run().warning
    )
    assert any("disk is nearly full" in w.value for w in at.sidebar.radio(key="lang").set_value("en").run().warning)
    at.text_input(key="signin_name").input("kim")
    at.text_input(key="signin_password").input("correct horse")
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error if "Sign-in refused" in e.value] == []
    assert at.session_state["actor"].name == "kim"
    assert any("disk is nearly full" in e.value and "free space" in e.value for e in at.warning)
    assert not (tiny_disk / "ws" / ".reserve").exists()  # given back to let the server and the sign-in through
    with sqlite3.connect(tiny_disk / "ws" / "boltscope.db") as db:
        assert db.execute("SELECT COUNT(*) FROM sessions WHERE user = 'kim'").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM audit WHERE action = 'sign_in'").fetchone()[0] == 1
