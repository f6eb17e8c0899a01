"""The malformed-input corpus (tests/core/malformed_corpus.py, 26 kinds, on top of the 21 of
test_ingest.py's mixed batch): each file is imported correctly or refused with its own reason, in one
batch, and a batch of refusals changes nothing stored."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core import ingest, store
from tests.conftest import make_image
from tests.core.malformed_corpus import CORPUS
from tests.core.train_helpers import ADMIN


def test_every_kind_is_imported_correctly_or_refused_with_its_reason(ws):
    uploads = [(name, data) for name, data, _ in CORPUS.values()]
    # two different photos with the same name, and one photo twice, in the same batch
    uploads += [
        ("same.jpg", make_image(40)),
        ("same.jpg", make_image(41)),
        ("twice.jpg", make_image(42)),
        ("again.jpg", make_image(42)),
    ]
    report = ingest.import_uploads(ws, ADMIN, uploads)
    assert len(report.outcomes) == len(uploads)  # one outcome per file, none passed over
    by_kind = dict(zip([*CORPUS, "same name 1", "same name 2", "twice", "again"], report.outcomes, strict=True))
    for kind, (_name, _data, expected) in CORPUS.items():
        outcome = by_kind[kind]
        if expected is None:
            assert outcome.status == "imported", (kind, outcome)
        else:
            assert (outcome.status, outcome.key) == ("rejected", expected), (kind, outcome)
            assert outcome.message and "{" not in outcome.message
    assert by_kind["same name 1"].status == by_kind["same name 2"].status == "imported"
    assert by_kind["twice"].status == "imported" and by_kind["again"].key == "dup.batch"

    rows = {image.id: image for image in store.all_images(ws.conn)}
    for kind in ("exif-rotated jpeg", "16-bit png", "cmyk jpeg", "palette png with transparency"):
        image = rows[by_kind[kind].image_id]
        with Image.open(ws.layout.cached(image.sha256)) as copy:
            assert copy.mode == "RGB" and copy.size == (image.width, image.height), kind
    assert (rows[by_kind["exif-rotated jpeg"].image_id].width, rows[by_kind["exif-rotated jpeg"].image_id].height) == (
        40,
        80,
    )  # stored upright
    with Image.open(ws.layout.cached(rows[by_kind["16-bit png"].image_id].sha256)) as copy:
        assert np.asarray(copy).std() > 10  # 16-bit values scaled to 8 bits, not clipped to white
    long_name = rows[by_kind["300-character name"].image_id].display_name
    assert len(long_name) <= 200 and long_name.endswith(".jpg")
    control = rows[by_kind["name with control characters"].image_id].display_name
    assert not any(ord(ch) < 32 for ch in control)
    assert rows[by_kind["korean name (decomposed)"].image_id].display_name == "볼트.jpg"


def test_a_batch_of_refusals_changes_nothing(ws):
    ingest.import_uploads(ws, ADMIN, [("keep.jpg", make_image(50))], label="normal")
    before = list(ws.conn.iterdump())
    files_before = sorted(p for p in ws.layout.root.rglob("*") if p.is_file() and "boltscope.db" not in p.name)
    refused = [(name, data) for name, data, expected in CORPUS.values() if expected is not None]
    report = ingest.import_uploads(ws, ADMIN, refused)
    assert report.count("rejected") == len(refused)
    assert list(ws.conn.iterdump()) == before
    assert sorted(p for p in ws.layout.root.rglob("*") if p.is_file() and "boltscope.db" not in p.name) == files_before
