"""doctor finds and repairs damage without losing anything; backup while the app writes; restore; kill -9 of an
import and of a checkpoint write midway leave a workspace doctor finds consistent."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from core import backup, doctor, files, ingest, store
from core.errors import ValidationError
from core.workspace import open_workspace
from tests.conftest import ROOT, make_image
from tests.core.train_helpers import ADMIN, add_demo


@pytest.fixture(autouse=True)
def no_settle_time(monkeypatch):
    monkeypatch.setattr(doctor, "SETTLE_S", -1)  # the tests' files are seconds old


def cli(ws_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(ws_path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_healthy_workspace_needs_nothing(ws):
    add_demo(ws, 6)
    report = doctor.run(ws, ADMIN)
    assert report.consistent and not report.rebuilt_cache and not report.orphan_originals
    assert not report.temp_files_removed and report.orphan_derived_removed == 0


def test_doctor_repairs_what_it_can_and_reports_the_rest(ws):
    add_demo(ws, 6)
    images = store.all_images(ws.conn)
    layout = ws.layout
    cached = layout.cached(images[0].sha256)
    good_copy = cached.read_bytes()
    cached.unlink()
    layout.thumb(images[1].sha256).unlink()
    stray = layout.original("ab" * 32, ".jpg")
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(make_image(99))
    torn = layout.originals / "12" / f"{files.TMP_PREFIX}dead-beef.jpg"
    torn.parent.mkdir(parents=True, exist_ok=True)
    torn.write_bytes(b"half a photo")
    orphan_thumb = layout.thumb("cd" * 32)
    orphan_thumb.parent.mkdir(parents=True, exist_ok=True)
    orphan_thumb.write_bytes(b"x")
    layout.original(images[2].sha256, images[2].ext).unlink()

    dry = doctor.run(ws, ADMIN, repair=False)
    assert stray.exists() and torn.exists() and not cached.exists()  # a dry run changes nothing
    report = doctor.run(ws, ADMIN)
    assert dry.to_json() | {"interrupted_jobs": []} == report.to_json() | {"interrupted_jobs": []}
    assert set(report.rebuilt_cache) == {images[0].id, images[1].id}
    assert cached.read_bytes() == good_copy and layout.thumb(images[1].sha256).exists()
    assert not stray.exists() and (layout.root / "quarantine" / stray.relative_to(layout.originals)).exists()
    assert not torn.exists() and not orphan_thumb.exists()
    assert report.missing_originals == [images[2].id] and not report.consistent
    again = doctor.run(ws, ADMIN)
    assert not again.rebuilt_cache and not again.orphan_originals and again.missing_originals == [images[2].id]
    assert cli(ws.settings.workspace, "doctor").returncode == 1  # a missing original needs a backup


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_backup_while_writing_then_restore(ws, tmp_path):
    add_demo(ws, 9)
    ids = [i.id for i in store.all_images(ws.conn)]
    store.relabel(ws.conn, ADMIN, ids[:2], "missing")
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys; sys.path.insert(0, '.');"
                "from core.workspace import open_workspace; from core import store, auth;"
                f"ws = open_workspace({str(ws.settings.workspace)!r}); a = auth.Actor('w', 'admin');"
                f"[store.relabel(ws.conn, a, [{ids[3]}], ('normal', 'broken')[i % 2]) for i in range(400)]"
            ),
        ],
        cwd=ROOT,
    )
    try:
        out = backup.backup(ws, ADMIN, tmp_path / "bk")
    finally:
        writer.wait(timeout=120)
    assert out["photos"] == 9 and (tmp_path / "bk" / backup.MANIFEST).exists()
    with pytest.raises(ValidationError, match="not empty"):
        backup.backup(ws, ADMIN, tmp_path / "bk")
    with pytest.raises(ValidationError, match="outside the workspace"):
        backup.backup(ws, ADMIN, ws.settings.workspace / "inside")

    target = tmp_path / "restored"
    result = cli(target, "restore", str(tmp_path / "bk"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["doctor"]["consistent"]
    restored = open_workspace(target)
    try:
        assert {i.sha256 for i in store.all_images(restored.conn)} == {i.sha256 for i in store.all_images(ws.conn)}
        assert [e.new_label for e in store.history(restored.conn, ids[0])][-1] == "missing"
        assert all(restored.layout.cached(i.sha256).exists() for i in store.all_images(restored.conn))
    finally:
        restored.close()
    assert cli(target, "restore", str(tmp_path / "bk")).returncode == 2  # not empty: refused
    forced = cli(target, "restore", str(tmp_path / "bk"), "--force")
    assert forced.returncode == 0 and os.path.isdir(json.loads(forced.stdout)["kept_aside"])
    assert cli(tmp_path / "other", "restore", str(tmp_path)).returncode == 2  # not a backup


@pytest.mark.slow
def test_kill_9_during_an_import_leaves_a_workspace_doctor_finds_consistent(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(400):
        (folder / f"p{i:04d}.jpg").write_bytes(make_image(i, size=(640, 480)))
    ws_path = tmp_path / "ws"
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "--workspace", str(ws_path), "import", str(folder)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until part of the import is committed
        with contextlib.suppress(sqlite3.Error), sqlite3.connect(ws_path / "boltscope.db", timeout=5) as conn:
            if conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] >= 20:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    ws = open_workspace(ws_path)
    try:
        rows = store.all_images(ws.conn)
        assert 20 <= len(rows) < 400
        for image in rows:  # every committed row has its files, whole
            assert (
                ws.layout.original(image.sha256, image.ext).read_bytes() == (folder / image.display_name).read_bytes()
            )
        report = doctor.run(ws, ADMIN)
        assert report.consistent, report.to_json()
        assert not [p for p in ws.layout.root.rglob(f"{files.TMP_PREFIX}*")]
        assert doctor.run(ws, ADMIN).to_json()["orphan_originals"] == []
        again = ingest.import_paths(ws, ADMIN, [folder])  # finishing the import later works
        assert again.count("imported") + len(rows) == 400
    finally:
        ws.close()


@pytest.mark.slow
def _wait_for_saves(path, proc, saves: int) -> None:
    """Until the checkpoint has been replaced `saves` times by proc (each save renames a new file into place),
    not for a fixed time: importing torch alone can take seconds on a busy machine."""

    def inode():
        with contextlib.suppress(FileNotFoundError):
            return path.stat().st_ino
        return None

    seen, last, deadline = 0, inode(), time.time() + 120
    while seen < saves:
        assert proc.poll() is None and time.time() < deadline, "the checkpoint writer stopped or never saved"
        now = inode()
        if now is not None and now != last:
            seen, last = seen + 1, now
        time.sleep(0.01)


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_kill_9_during_checkpoint_writes_never_leaves_a_torn_checkpoint(tmp_path):
    ws = open_workspace(tmp_path / "ws")
    path = ws.layout.run_dir(1) / "last.pt"
    code = (
        "import sys, torch; sys.path.insert(0, '.'); from pathlib import Path; from core.ml import checkpoint;"
        f"p = Path({str(path)!r}); i = 0\n"
        "while True:\n"
        "    checkpoint.save(p, {'epoch': i, 'model': {'w': torch.full((1500, 1500), float(i))}}); i += 1\n"
    )
    for saves in (1, 2, 3):  # killed at a different point of a later write each time
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
        _wait_for_saves(path, proc, saves)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if path.exists():
            from core.ml import checkpoint

            saved = checkpoint.load(path)
            assert float(saved["model"]["w"][0, 0]) == saved["epoch"]  # a whole checkpoint, never a torn one
    doctor.run(ws, ADMIN)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(files.TMP_PREFIX)]
    ws.close()


def test_a_backup_keeps_the_inspection_record_and_its_views(ws, tmp_path):
    """Station references, inspected photos and each inspection's crops and heatmaps come back with a restore:
    a record whose photo is missing could no longer be shown, reported or audited."""
    from PIL import Image as PILImage

    from core import inspection_report, inspections
    from tests.core import inspection_helpers as helpers

    station = helpers.station(ws)
    data = helpers.photo(7)
    inspection_id = inspections.record_inspection(ws, ADMIN, helpers.result(station, data, helpers.run_row(ws)), data)
    inspection_report.save_views(ws, inspection_id, [PILImage.new("RGB", (8, 8))], [None])
    backup.backup(ws, ADMIN, tmp_path / "bk")
    backup.restore(tmp_path / "bk", tmp_path / "restored", ADMIN)
    back = open_workspace(tmp_path / "restored")
    stored = inspections.get_inspection(back.conn, inspection_id)
    assert inspections.photo_path(back, stored).read_bytes() == data
    folder = back.layout.root / "records" / station.reference_sha256[:2]
    assert [p.name for p in folder.iterdir() if p.name.startswith(station.reference_sha256)]
    assert inspection_report.view(back, inspection_id, 0, "crop") is not None
    back.close()
