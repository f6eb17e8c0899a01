"""Sign-in on a nearly full disk (a real small tmpfs): imports stop at the free-space floor, the workspace keeps
a reserve file, and a sign-in that meets a full disk gives the reserve back and succeeds (its audit row and its
session row written); the user is told the disk is nearly full. Needs permission to mount (root)."""

from __future__ import annotations

import contextlib

import pytest

from core import audit, auth, files, sessions, signin, users, workspace
from core.errors import SignInRefused
from core.workspace import open_workspace
from tests.core import disks

ADMIN = auth.Actor("root", "admin")


@pytest.fixture
def tiny_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("BOLTSCOPE_MIN_FREE_MB", "1")
    monkeypatch.setenv("BOLTSCOPE_RESERVE_MB", "1")
    with disks.tmpfs(tmp_path, "4m") as mount:
        yield mount


def fill(mount) -> None:
    """Fill the disk to the last block, as a flood of audit rows or a big copy would."""
    with open(mount / "filler", "ab", buffering=0) as handle:
        for block in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * block)


def full_workspace(mount):
    """A workspace with an account and its reserve, its WAL emptied (so the next database write needs new space,
    as after a checkpoint that truncated it), then its disk filled."""
    ws = open_workspace(mount / "ws")
    users.add(ws.conn, ADMIN, "kim", "labeler", "correct horse")
    assert workspace.keep_reserve(ws) and files.has_reserve(ws.layout.root)
    assert workspace.disk_low(ws) is None
    ws.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    fill(mount)
    return ws


def test_a_sign_in_on_a_full_disk_uses_the_reserve_and_says_so(tiny_disk):
    ws = full_workspace(tiny_disk)
    try:
        me = signin.authenticate(ws.conn, "kim", "correct horse", client="10.0.0.7")
        assert me == auth.Actor("kim", "labeler")
        assert not files.has_reserve(ws.layout.root)  # given back to let the sign-in through
        handoff = sessions.create(ws.conn, me)  # the session row the page writes next
        assert sessions.redeem(ws.conn, handoff.code)
        assert audit.query(ws.conn, actions=("sign_in",))[0].user == "kim"
        assert workspace.disk_low(ws) is not None  # the page tells the user: an admin must free space
        assert not workspace.keep_reserve(ws)  # no room to make it again until space is freed
    finally:
        ws.close()


def test_without_a_reserve_a_full_disk_refuses_the_sign_in_with_the_reason(tiny_disk):
    ws = full_workspace(tiny_disk)
    try:
        files.release_reserve(ws.layout.root)
        fill(tiny_disk)
        with pytest.raises(SignInRefused) as refused:
            signin.authenticate(ws.conn, "kim", "correct horse")
        assert refused.value.reason_key == "signin.unrecorded"
    finally:
        ws.close()


def test_freed_space_brings_the_reserve_back(tiny_disk):
    ws = full_workspace(tiny_disk)
    try:
        signin.authenticate(ws.conn, "kim", "correct horse")
        (tiny_disk / "filler").unlink()
        assert workspace.keep_reserve(ws) and workspace.disk_low(ws) is None
    finally:
        ws.close()


def test_a_workspace_on_a_full_disk_still_opens_with_the_reserve(tiny_disk):
    full_workspace(tiny_disk).close()  # the last connection gone: SQLite must make its -shm file again
    fill(tiny_disk)
    ws = open_workspace(tiny_disk / "ws")
    try:
        assert not files.has_reserve(ws.layout.root) and workspace.disk_low(ws) is not None
        assert signin.authenticate(ws.conn, "kim", "correct horse").name == "kim"
    finally:
        ws.close()
