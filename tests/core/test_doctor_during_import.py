"""`doctor` run while an import is between writing a chunk's files and committing its rows removes nothing of
it (issue 14, point 6): the import holds the files lock shared, doctor waits for it exclusive. True orphans
(derived files no row claims, old enough) are still removed; young ones are left alone."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time

import pytest

from core import doctor, files, ingest, store
from core.workspace import open_workspace
from tests.conftest import ROOT, make_image
from tests.core.train_helpers import ADMIN

N = 6

# An import whose first chunk stops after its files are written and before its rows are committed, until the
# test creates the `go` file; it says it got there by creating the `paused` file.
CHILD = """
import pathlib, sys, time
sys.path.insert(0, '.')
from core import auth, ingest, store
from core.workspace import open_workspace
ws_path, paused, go, folder = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]), sys.argv[4]
real = store.insert_images
def held(*args, **kwargs):
    paused.write_text('files written, rows not yet')
    deadline = time.monotonic() + 120
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return real(*args, **kwargs)
store.insert_images = held
ws = open_workspace(ws_path)
print(ingest.import_paths(ws, auth.Actor('importer', 'admin'), [folder]).count('imported'))
ws.close()
"""


def _photos(folder, n: int = N, start: int = 0):
    folder.mkdir()
    for i in range(start, start + n):
        (folder / f"p{i}.jpg").write_bytes(make_image(i))
    return folder


def _stray(path, age_s: float = 0.0):
    """A derived file no row claims, age_s seconds old."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a photo of this workspace")
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def _wait_for(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _derived(layout) -> list:
    return [p for folder in (layout.cache / "images", layout.cache / "thumbs") for p in folder.rglob("*.jpg")]


def test_doctor_during_an_import_keeps_the_files_of_photos_being_imported(tmp_path, monkeypatch):
    monkeypatch.setattr(doctor, "SETTLE_S", -1)  # no age guard: only the lock may protect the import here
    folder = _photos(tmp_path / "photos")
    ws_path = tmp_path / "ws"
    ws = open_workspace(ws_path)
    strays = [_stray(ws.layout.thumb("cd" * 32), 3600), _stray(ws.layout.cached("ef" * 32), 3600)]
    ws.close()
    paused, go = tmp_path / "paused", tmp_path / "go"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ws_path), str(paused), str(go), str(folder)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: paused.exists() or child.poll() is not None, "the import to write its files")
        assert paused.exists(), child.communicate()[1]
        peek = open_workspace(ws_path)
        assert len(_derived(peek.layout)) == 2 * N + 2  # the chunk's files are there, its rows are not
        assert store.all_images(peek.conn) == []
        peek.close()

        asked_exclusive = threading.Event()
        real_flock = fcntl.flock

        def spy(fd, operation):
            if operation & fcntl.LOCK_EX:
                asked_exclusive.set()
            return real_flock(fd, operation)

        monkeypatch.setattr(fcntl, "flock", spy)
        reports = []

        def run_doctor():
            dws = open_workspace(ws_path)
            try:
                reports.append(doctor.run(dws, ADMIN))  # a repair, not a dry run
            finally:
                dws.close()

        thread = threading.Thread(target=run_doctor)
        thread.start()
        _wait_for(lambda: asked_exclusive.is_set() or not thread.is_alive(), "doctor to reach its orphan checks")
    finally:
        go.touch()  # the import goes on
        out, err = child.communicate(timeout=120)
    thread.join(timeout=120)
    assert child.returncode == 0 and out.strip() == str(N), err
    assert reports, "doctor did not finish"
    report = reports[0]
    ws = open_workspace(ws_path)
    try:
        images = store.all_images(ws.conn)
        assert len(images) == N
        for image in images:  # every photo has its cache copy, thumbnail and original
            assert ws.layout.cached(image.sha256).is_file() and ws.layout.thumb(image.sha256).is_file()
            assert ws.layout.original(image.sha256, image.ext).is_file()
        assert report.orphan_originals == [] and not (ws_path / "quarantine").exists()
        assert report.orphan_derived_removed == 2 and not any(p.exists() for p in strays)  # true orphans go
        assert doctor.run(ws, ADMIN).consistent
    finally:
        ws.close()


def test_old_orphans_go_young_ones_stay(ws, tmp_path):
    ingest.import_paths(ws, ADMIN, [_photos(tmp_path / "photos", 2)])
    old = [
        _stray(ws.layout.thumb("a1" * 32), doctor.SETTLE_S + 60),
        _stray(ws.layout.cached("a2" * 32), doctor.SETTLE_S + 60),
    ]
    young = [_stray(ws.layout.thumb("b1" * 32)), _stray(ws.layout.cached("b2" * 32))]
    dry = doctor.run(ws, ADMIN, repair=False)
    assert dry.orphan_derived_removed == 2 and all(p.exists() for p in old)
    report = doctor.run(ws, ADMIN)
    assert report.orphan_derived_removed == 2
    assert not any(p.exists() for p in old) and all(p.exists() for p in young)
    assert all(ws.layout.thumb(i.sha256).exists() for i in store.all_images(ws.conn))


def test_doctor_skips_the_orphan_checks_when_an_import_keeps_the_lock(ws, monkeypatch):
    monkeypatch.setattr(doctor, "SETTLE_S", -1)
    monkeypatch.setattr(doctor, "LOCK_WAIT_S", 0.2)
    stray = _stray(ws.layout.thumb("c1" * 32))
    with files.files_lock(ws.layout.root, exclusive=False) as held:
        assert held
        report = doctor.run(ws, ADMIN)
    assert stray.exists() and report.orphan_derived_removed == 0
    assert report.skipped and "lock" in report.skipped[0]
    assert report.consistent  # nothing found wrong; the skip is said in `skipped`
    assert doctor.run(ws, ADMIN).orphan_derived_removed == 1 and not stray.exists()


@pytest.mark.parametrize("exclusive", [False, True])
def test_the_lock_waits_for_the_other_side(ws, exclusive):
    with files.files_lock(ws.layout.root, exclusive=exclusive):
        with files.files_lock(ws.layout.root, exclusive=True, wait_s=0.1) as other:
            assert not other
        with files.files_lock(ws.layout.root, exclusive=False, wait_s=0.1) as shared:
            assert shared is not exclusive  # imports share the lock with each other, not with doctor
    with files.files_lock(ws.layout.root, exclusive=True, wait_s=0.1) as after:
        assert after
