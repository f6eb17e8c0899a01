"""A full disk and a read-only workspace (a real small tmpfs, remounted read-only): a clear error, nothing
stored lost or changed, no file left without its row. Needs permission to mount (root); skipped otherwise."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from core import audit, backup, cli, dataset_export, doctor, files, i18n, ingest, store
from core.errors import StorageError
from core.workspace import open_workspace
from tests.conftest import ROOT, make_image
from tests.core import disks
from tests.core.train_helpers import ADMIN


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("BOLTSCOPE_MIN_FREE_MB", "0")  # these tests fill the disk to the last byte
    with disks.tmpfs(tmp_path, "3m") as mount:
        yield mount


def photos(start: int, n: int, size: tuple[int, int] = (400, 300)) -> list[tuple[str, bytes]]:
    return [(f"p{start + i}.png", make_image(start + i, size=size, fmt="PNG")) for i in range(n)]


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
    with disks.read_only(small_disk):
        with pytest.raises(StorageError, match="is read-only; boltscope needs to write there"):
            open_workspace(small_disk / "ws")
        out = subprocess.run(
            [sys.executable, "-m", "core", "--workspace", str(small_disk / "ws"), "relabel", "1", "broken"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 1 and "is read-only" in out.stderr and "Traceback" not in out.stderr
    ws = open_workspace(small_disk / "ws")
    assert snapshot(ws) == before
    ws.close()


def stored_names(ws) -> list[str]:
    return sorted(i.display_name for i in store.all_images(ws.conn))


def test_a_disk_full_import_names_the_photos_it_stored_before_it_stopped(small_disk, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK", 2)  # chunks commit one after another until the disk is full
    ws = open_workspace(small_disk / "ws")
    try:
        with pytest.raises(StorageError) as caught:
            ingest.import_uploads(ws, ADMIN, photos(0, 100, size=(160, 120)), label="normal")
        stored = stored_names(ws)
        assert 12 <= len(stored) < 100 and len(stored) % 2 == 0  # whole chunks only, more than are named
        exc = caught.value
        assert "No space left on device" in str(exc)
        assert f"{len(stored)} photo(s) of this import were stored" in str(exc)
        assert exc.key == "dataset.error_import_stopped" and exc.detail["count"] == len(stored)
        named = exc.detail["names"].split(", ")
        shown = [n for n in named if n.endswith(".png")]
        assert set(shown) <= set(stored) and len(shown) == min(10, len(stored))
        assert named[-1] == f"… (+{len(stored) - 10})"
        korean = i18n.t(exc.key, "ko", **exc.detail)
        assert f"{len(stored)}장이 저장되었습니다" in korean and named[0] in korean
        assert doctor.run(ws, ADMIN, repair=False).consistent
    finally:
        ws.close()


def test_the_cli_names_the_stored_photos_of_a_stopped_import(small_disk, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ingest, "CHUNK", 2)
    folder = tmp_path / "in"
    folder.mkdir()
    for name, data in photos(0, 30):
        (folder / name).write_bytes(data)
    assert cli.main(["--workspace", str(small_disk / "ws"), "import", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "were stored before it stopped: p" in err
    ws = open_workspace(small_disk / "ws")
    try:
        stored = stored_names(ws)
    finally:
        ws.close()
    assert stored and f"{len(stored)} photo(s)" in err and all(name in err for name in stored[:10])


def test_imports_stop_at_the_free_space_floor_and_name_what_they_stored(small_disk, monkeypatch):
    monkeypatch.setenv("BOLTSCOPE_MIN_FREE_MB", "1")
    monkeypatch.setattr(ingest, "CHUNK", 2)
    ws = open_workspace(small_disk / "ws")
    try:
        with pytest.raises(StorageError) as caught:
            ingest.import_uploads(ws, ADMIN, photos(0, 30), label="normal")
        exc, stored = caught.value, stored_names(ws)
        assert stored and exc.key == "dataset.error_floor_stored" and exc.detail["count"] == len(stored)
        assert "BOLTSCOPE_MIN_FREE_MB" in str(exc) and "No space left" not in str(exc)
        assert files.free_mb(ws.layout.root) >= 1  # the floor held: the last megabyte is still free
        with pytest.raises(StorageError) as again:  # nothing stored at all: the floor's own error
            ingest.import_uploads(ws, ADMIN, photos(100, 2), label="normal")
        assert again.value.key == "dataset.error_disk_floor" and stored_names(ws) == stored
        assert "{" not in i18n.t(again.value.key, "ko", **again.value.detail)
    finally:
        ws.close()


def workspace_with_photos(path, n: int):
    ws = open_workspace(path)
    assert ingest.import_uploads(ws, ADMIN, photos(0, n), label="normal").count("imported") == n
    return ws


def test_a_backup_that_cannot_fit_is_refused_up_front_with_one_clear_line(small_disk, tmp_path):
    ws = workspace_with_photos(tmp_path / "ws", 12)  # about 4.5 MB of originals, on a 3 MB disk
    ws.close()
    out = subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(tmp_path / "ws"), "backup", str(small_disk / "bk")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr and out.stderr.count("\n") == 1, out.stderr
    assert "the backup needs about" in out.stderr and "choose a disk with more room" in out.stderr
    assert list(small_disk.iterdir()) == []


def test_a_backup_that_fills_its_disk_leaves_nothing_behind(small_disk, tmp_path, monkeypatch, capsys):
    ws = workspace_with_photos(tmp_path / "ws", 12)
    # an estimate too low: the disk fills midway
    monkeypatch.setattr(backup, "needed_bytes", lambda _ws: 0, raising=False)
    try:
        with pytest.raises(StorageError) as caught:
            backup.backup(ws, ADMIN, small_disk / "bk")
        assert caught.value.key == "dataset.error_backup_full" and "disk is full" in str(caught.value)
        assert "디스크가 가득 찼습니다" in i18n.t(caught.value.key, "ko", **caught.value.detail)
        assert list(small_disk.iterdir()) == []  # no half backup, no staging folder
        assert not audit.query(ws.conn, actions=("backup",))
    finally:
        ws.close()
    (small_disk / "filler").write_bytes(b"\0" * (small_disk_free(small_disk) - 4096))  # the disk is full from the start
    assert cli.main(["--workspace", str(tmp_path / "ws"), "backup", str(small_disk / "bk")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "disk is full" in err and "Traceback" not in err
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def small_disk_free(mount) -> int:
    return shutil.disk_usage(mount).free


def test_an_export_zip_that_would_pass_the_floor_is_refused(small_disk, monkeypatch):
    ws = open_workspace(small_disk / "ws")
    assert ingest.import_uploads(ws, ADMIN, photos(0, 4, size=(160, 120)), label="normal").count("imported") == 4
    ws.close()
    monkeypatch.setenv("BOLTSCOPE_MIN_FREE_MB", "3")  # the whole 3 MB disk: any bulk write would pass it
    ws = open_workspace(small_disk / "ws")
    try:
        with pytest.raises(StorageError) as caught:
            dataset_export.export_zip(ws, ADMIN)
        assert caught.value.key == "dataset.error_disk_floor" and "exports stop at 3 MB" in str(caught.value)
        assert not list(ws.layout.exports.glob("*"))
    finally:
        ws.close()
