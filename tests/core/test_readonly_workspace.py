"""A workspace on a read-only disk (a real tmpfs, remounted read-only): the commands that only read (`stats`,
`audit`, `doctor --dry-run`, `backup` to a writable folder) work, opened read-only without migrations or
cleanup; the commands that change something keep their clear refusal. Needs permission to mount (root)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from core import ingest, store
from core.errors import StorageError
from core.workspace import open_workspace
from tests.conftest import ROOT
from tests.core import disks
from tests.core import test_storage_faults as faults
from tests.core.train_helpers import ADMIN

small_disk = faults.small_disk  # the fixture: a 3 MB tmpfs
photos, snapshot = faults.photos, faults.snapshot


def cli(ws, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(ws), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow  # nine CLI processes
def test_read_only_commands_work_on_a_read_only_workspace(small_disk, tmp_path):
    ws = open_workspace(small_disk / "ws")
    assert ingest.import_uploads(ws, ADMIN, photos(0, 2), label="normal").count("imported") == 2
    before = snapshot(ws)
    ws.close()
    with disks.read_only(small_disk):
        stats = cli(small_disk / "ws", "stats")
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["total"] == 2
        trail = cli(small_disk / "ws", "audit", "--action", "upload")
        assert trail.returncode == 0 and json.loads(trail.stdout.splitlines()[0])["user"] == ADMIN.name, trail.stderr
        check = cli(small_disk / "ws", "doctor", "--dry-run")
        assert check.returncode == 0, check.stderr
        assert json.loads(check.stdout)["consistent"] is True
        copy = cli(small_disk / "ws", "backup", str(tmp_path / "bk"))
        assert copy.returncode == 0, copy.stderr
        assert json.loads(copy.stdout)["photos"] == 2 and json.loads(copy.stdout)["audited"] is False
        with sqlite3.connect(tmp_path / "bk" / "boltscope.db") as db:
            assert db.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 2
        assert len(list((tmp_path / "bk" / "originals").rglob("*.png"))) == 2
        for changing in (("relabel", "1", "broken"), ("doctor",), ("import", str(tmp_path / "bk"))):
            refused = cli(small_disk / "ws", *changing)
            assert refused.returncode == 1 and "is read-only" in refused.stderr, (changing, refused.stderr)
            assert "Traceback" not in refused.stderr
    ws = open_workspace(small_disk / "ws")
    try:
        assert snapshot(ws) == before
    finally:
        ws.close()


def test_a_read_only_open_changes_nothing_and_refuses_writes(small_disk):
    ws = open_workspace(small_disk / "ws")
    ingest.import_uploads(ws, ADMIN, photos(0, 1), label="normal")
    ws.close()
    with disks.read_only(small_disk):
        ro = open_workspace(small_disk / "ws", read_only=True)
        try:
            assert ro.read_only and ro.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 1
            with pytest.raises(StorageError, match="Read-only file system"):
                ingest.import_uploads(ro, ADMIN, photos(5, 1), label="normal")
            with pytest.raises(StorageError, match="readonly|read-only"):  # the database itself refuses too
                store.relabel(ro.conn, ADMIN, [1], "broken")
        finally:
            ro.close()
