"""core.ingest: a chunk's work does not grow with the workspace (issue 15, point 4). Counted, not timed: SQLite
virtual-machine steps (each row a query reads costs some) for the same photos imported into workspaces of 200
and of 2,000 stored photos."""

from __future__ import annotations

import hashlib

import pytest

from core import auth, ingest, splits, store
from core.workspace import open_workspace
from tests.conftest import make_image

LABELS = ("normal", "broken", "missing")


def fill(ws, actor: auth.Actor, n: int) -> None:
    """n stored photos (rows only: an import reads no stored photo's files), spread over the labels, settled."""
    rows = [
        store.NewImage(
            sha256=hashlib.sha256(f"stored {i}".encode()).hexdigest(),
            ext=".jpg",
            display_name=f"stored_{i}.jpg",
            origin="",
            source="import",
            width=64,
            height=48,
            bytes=1000,
            phash="0" * 16,
            brightness=0.5,
            sharpness=0.5,
            label=LABELS[i % 3],
            split=None,
        )
        for i in range(n)
    ]
    store.insert_images(ws.conn, actor, rows, "import", ws.settings.split_ratios)
    assert store.stats(ws.conn)["total"] == n


def steps_per_chunk(ws, actor: auth.Actor, uploads, monkeypatch) -> list[int]:
    """The SQLite steps each chunk of one import took (hash lookups, rows, splits, audit: all of it)."""
    steps, per_chunk = [0], []

    def tick() -> int:
        steps[0] += 1
        return 0  # go on

    def counted_flush(ws_, actor_, pool, pending, *rest):
        start = steps[0]
        real_flush(ws_, actor_, pool, pending, *rest)
        if pending:
            per_chunk.append(steps[0] - start)

    real_flush = ingest._flush
    ws.conn.set_progress_handler(tick, 1)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(ingest, "_flush", counted_flush)
            report = ingest.import_uploads(ws, actor, uploads, label="normal")
    finally:
        ws.conn.set_progress_handler(None, 1)
    assert report.count("imported") == len(uploads)
    return per_chunk


def test_a_chunk_costs_the_same_in_a_workspace_ten_times_larger(tmp_path, monkeypatch, admin):
    uploads = [(f"new_{i}.jpg", make_image(300 + i)) for i in range(3 * ingest.CHUNK)]
    counts = {}
    for stored in (200, 2000):
        ws = open_workspace(tmp_path / f"ws{stored}")
        try:
            fill(ws, admin, stored)
            counts[stored] = steps_per_chunk(ws, admin, uploads, monkeypatch)
        finally:
            ws.close()
    small, large = counts[200], counts[2000]
    assert len(small) == len(large) == 3
    assert large[0] > small[0]  # the first chunk reads its label's stored photos once: the counter sees rows
    assert large[1:] == small[1:], counts  # the chunks after it: not one step more for 1,800 more photos
    assert large[1] < small[0]  # and a chunk's steps are those of its own photos, not of the stored ones


@pytest.mark.parametrize(("stored", "split"), [(0, None), (40, None), (40, "test")])
def test_an_import_splits_as_planning_each_chunk_whole_did(tmp_path, monkeypatch, admin, stored, split):
    """The same photos imported with the counts, and with every chunk planning its label groups whole (as before):
    the same split for every photo, stored ones included."""
    uploads = [(f"{LABELS[i % 2]}/p{i}.jpg", make_image(700 + i)) for i in range(2 * ingest.CHUNK + 5)]
    uploads += [(f"missing/q{i}.jpg", make_image(800 + i)) for i in range(3)]
    found = []
    for whole in (False, True):
        ws = open_workspace(tmp_path / f"ws{whole}")
        try:
            fill(ws, admin, stored)
            with monkeypatch.context() as patch:
                if whole:  # never from counts: every chunk reads and plans its groups whole
                    patch.setattr(splits, "place_new", lambda *_args: None)
                assert ingest.import_uploads(ws, admin, uploads, split=split).count("imported") == len(uploads)
            found.append({im.sha256: (im.label, im.split, im.split_locked) for im in store.all_images(ws.conn)})
        finally:
            ws.close()
    assert found[0] == found[1]
    assert {split for _label, split, _locked in found[0].values()} >= ({split} if split else {"train", "val", "test"})


def test_another_session_writing_between_chunks_is_seen(tmp_path, monkeypatch, admin):
    """Another connection relabels and trashes stored photos between the chunks of an import: the import sees it
    (SQLite's data_version) and its splits are still those of planning each chunk's groups whole."""
    uploads = [(f"{LABELS[i % 2]}/p{i}.jpg", make_image(900 + i)) for i in range(4 * ingest.CHUNK)]
    found = []
    for whole in (False, True):
        ws = open_workspace(tmp_path / f"ws{whole}")
        other = open_workspace(tmp_path / f"ws{whole}")
        real_insert = store.insert_images

        def meddle(*args, other=other, real_insert=real_insert):
            stored = [im for im in store.all_images(other.conn) if im.label == "normal" and im.split != "train"]
            store.relabel(other.conn, admin, [im.id for im in stored[:3]], "broken")
            store.set_trashed(other.conn, admin, [im.id for im in stored[3:5]], True)
            return real_insert(*args)

        try:
            fill(ws, admin, 90)
            with monkeypatch.context() as patch:
                patch.setattr(store, "insert_images", meddle)
                if whole:
                    patch.setattr(splits, "place_new", lambda *_args: None)
                assert ingest.import_uploads(ws, admin, uploads).count("imported") == len(uploads)
            found.append({im.sha256: im.split for im in store.all_images(ws.conn, include_trashed=True)})
        finally:
            other.close()
            ws.close()
    assert found[0] == found[1]
