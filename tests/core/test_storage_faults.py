"""A full disk and a read-only workspace (a real small tmpfs, remounted read-only): a clear error, nothing
stored lost or changed, no file left without its row. Needs permission to mount (root); skipped otherwise."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid

import pytest

from core import doctor, ingest, store
from core.errors import StorageError
from core.workspace import open_workspace
from tests.conftest import ROOT, make_image
from tests.core.train_helpers import ADMIN


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()[:120]}")
    yield mount
    with contextlib.suppress(Exception):
        subprocess.run(["umount", "-l", str(mount)], check=False)


def photos(start: int, n: int) -> list[tuple[str, bytes]]:
    return [(f"p{start + i}.png", make_image(start + i, size=(400, 300), fmt="PNG")) for i in range(n)]


def snapshot(ws) -> tuple[list[str], list[tuple[str, str | None]]]:
    return list(ws.conn.iterdump()), [(i.sha256, i.label) for i in store.all_images(ws.conn)]


def test_a_full_disk_refuses_the_import_and_leaves_no_trace(small_disk, monkeypatch):
    monkeypatch.setattr(doctor, "SETTLE_S", -1)
    ws = open_workspace(small_disk / "ws")
    try:
        assert ingest.import_uploads(ws, ADMIN, photos(0, 3), label="normal").count("imported") == 3
        before_db, before_rows = snapshot(ws)
        before_files = sorted(p for p in ws.layout.root.rglob("*") if p.is_file() and "boltscope.db" not in p.name)
        with pytest.raises(StorageError, match="No space left on device"):
            ingest.import_uploads(ws, ADMIN, photos(100, 25), label="broken")
        assert snapshot(ws) == (before_db, before_rows)
        after_files = sorted(p for p in ws.layout.root.rglob("*") if p.is_file() and "boltscope.db" not in p.name)
        assert after_files == before_files  # the failed chunk's files were taken back
        report = doctor.run(ws, ADMIN, repair=False)
        assert report.consistent and not report.orphan_originals and not report.temp_files_removed
    finally:
        ws.close()


def test_a_read_only_workspace_gives_a_clear_error_and_keeps_everything(small_disk):
    ws = open_workspace(small_disk / "ws")
    assert ingest.import_uploads(ws, ADMIN, photos(0, 2), label="normal").count("imported") == 2
    before = snapshot(ws)
    ws.close()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        with pytest.raises(StorageError, match="is read-only; boltscope needs to write there"):
            open_workspace(small_disk / "ws")
        out = subprocess.run([sys.executable, "-m", "core", "--workspace", str(small_disk / "ws"), "relabel", "1",
                              "broken"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 1 and "is read-only" in out.stderr and "Traceback" not in out.stderr
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    ws = open_workspace(small_disk / "ws")
    assert snapshot(ws) == before
    ws.close()
