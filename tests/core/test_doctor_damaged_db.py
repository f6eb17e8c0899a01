"""`doctor` on a damaged database reports the damage (which file, which check, how to restore) and exits 1,
never with a traceback, and repairs nothing from it (issue 14, point 9)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from core import doctor, ingest
from core.errors import StorageError
from core.workspace import Workspace, open_workspace
from tests.conftest import ROOT, make_image
from tests.core.train_helpers import ADMIN


def _workspace_with_photos(path, tmp_path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(4):
        (folder / f"p{i}.jpg").write_bytes(make_image(i))
    ws = open_workspace(path)
    assert ingest.import_paths(ws, ADMIN, [folder]).count("imported") == 4
    ws.close()  # the last connection folds the WAL into the database file


def _corrupt(db_path, kind: str) -> None:
    """Overwrite the images table's page with noise, or the file's header."""
    with sqlite3.connect(db_path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'images'").fetchone()[0]
    conn.close()
    offset = 0 if kind == "header" else (root - 1) * page_size
    with open(db_path, "r+b") as handle:
        handle.seek(offset)
        handle.write(bytes((i * 37 + 11) % 256 for i in range(page_size if kind == "table" else 100)))


def _raw(path) -> Workspace:
    """The workspace over a plain connection: as if the damage came after the open checked the file."""
    ws = open_workspace(path)
    ws.conn.close()
    ws.conn = sqlite3.connect(ws.layout.db_path, isolation_level=None, check_same_thread=False)
    ws.conn.row_factory = sqlite3.Row
    return ws


def _opened(path) -> Workspace:
    """The workspace as the app opens it; its page cache dropped, so it reads the damage made afterwards."""
    ws = open_workspace(path)
    ws.conn.execute("PRAGMA cache_size = 0")
    return ws


@pytest.mark.parametrize("kind", ["table", "header"])
@pytest.mark.parametrize("opener", [_raw, _opened])
def test_doctor_reports_a_damaged_database(tmp_path, kind, opener):
    path = tmp_path / "ws"
    _workspace_with_photos(path, tmp_path)
    ws = opener(path)
    derived = sorted(p for p in ws.layout.cache.rglob("*.jpg"))
    _corrupt(ws.layout.db_path, kind)
    if opener is _opened:
        ws.conn.execute("PRAGMA shrink_memory")
    try:
        for repair in (False, True):
            report = doctor.run(ws, ADMIN, repair=repair)
            assert not report.consistent
            assert report.damaged["file"] == str(ws.layout.db_path)
            assert report.damaged["check"] and report.damaged["error"]
            assert report.damaged["advice"].startswith("restore from the latest backup")
            assert f"python -m core --workspace {path} restore DIR --force" in report.damaged["advice"]
            assert json.dumps(report.to_json())  # the CLI prints it
    finally:
        ws.conn.close()
    assert sorted(p for p in ws.layout.cache.rglob("*.jpg")) == derived  # nothing removed on its word
    assert not (path / "quarantine").exists()


def test_the_doctor_command_on_a_damaged_database_exits_1_without_a_traceback(tmp_path):
    path = tmp_path / "ws"
    _workspace_with_photos(path, tmp_path)
    _corrupt(path / "boltscope.db", "table")
    result = subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(path), "doctor"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    assert "Traceback" not in said
    assert "boltscope.db" in said and "restore" in said


def test_a_busy_database_is_not_called_damaged(tmp_path):
    """'database is locked' (another writer) is an error to retry, never advice to restore a backup."""
    path = tmp_path / "ws"
    _workspace_with_photos(path, tmp_path)
    ws = open_workspace(path)
    ws.conn.execute("PRAGMA busy_timeout = 50")
    writer = sqlite3.connect(ws.layout.db_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageError, match="locked") as raised:
            doctor.run(ws, ADMIN)
        assert raised.value.key in ("error.workspace_db", "error.workspace_db_refused")
        assert "restore" not in str(raised.value)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        ws.close()
