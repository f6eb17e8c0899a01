"""core.health: near-duplicate search and the dataset health report over crafted rows."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from core import audit, health, ingest, store
from core.errors import NotFoundError, PermissionDenied
from tests.conftest import make_image


def bits(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def brute_force(hashes: list[str], max_bits: int) -> list[tuple[int, int, int]]:
    return [
        (i, j, bits(hashes[i], hashes[j]))
        for i in range(len(hashes))
        for j in range(i + 1, len(hashes))
        if bits(hashes[i], hashes[j]) <= max_bits
    ]


def flip(value: str, positions: list[int]) -> str:
    number = int(value, 16)
    for pos in positions:
        number ^= 1 << pos
    return f"{number:016x}"


def test_near_pair_found_and_distant_ones_not():
    base = "f0e1d2c3b4a59687"
    close = flip(base, [0, 17, 63])  # 3 bits, the top bit among them
    far = flip(base, list(range(0, 64, 4)))  # 16 bits
    edge = flip(base, [1, 2, 3, 4, 5, 6])  # 6 bits: just over the default limit
    pairs = health.near_duplicate_pairs([base, far, close, edge])
    assert pairs == [(0, 2, 3)]
    assert health.near_duplicate_pairs([base, edge], max_bits=6) == [(0, 1, 6)]
    assert health.near_duplicate_pairs([base, base]) == [(0, 1, 0)]
    assert health.near_duplicate_pairs([base]) == []
    assert health.near_duplicate_pairs([]) == []


def test_near_pairs_match_brute_force_across_blocks():
    rng = random.Random(3)
    hashes = [f"{rng.getrandbits(64):016x}" for _ in range(700)]
    # plant near copies far apart so that pairs cross the 512-row blocks
    for src, dst, n in [(3, 650, 2), (10, 520, 5), (600, 601, 1), (100, 699, 0), (200, 300, 6)]:
        hashes[dst] = flip(hashes[src], rng.sample(range(64), n))
    found = health.near_duplicate_pairs(hashes)
    assert sorted(found) == brute_force(hashes, health.NEAR_BITS)
    assert {(3, 650), (10, 520), (600, 601), (100, 699)} <= {(i, j) for i, j, _ in found}
    assert (200, 300) not in {(i, j) for i, j, _ in found}


def row(
    image_id: int,
    label: str | None = "normal",
    width: int = 200,
    height: int = 200,
    brightness: float = 120.0,
    sharpness: float = 400.0,
    phash: str | None = None,
) -> store.Image:
    return store.Image(
        id=image_id,
        sha256=f"{image_id:064x}",
        ext=".jpg",
        display_name=f"{image_id}.jpg",
        origin="test",
        source="import",
        width=width,
        height=height,
        bytes=1000,
        phash=phash or f"{image_id * 0x9E3779B97F4A7C15 % 2**64:016x}",
        brightness=brightness,
        sharpness=sharpness,
        label=label,
        split="train",
        split_locked=False,
        added_by="t",
        added_at="2024-01-01T00:00:00.000Z",
        deleted_at=None,
        deleted_by=None,
    )


def test_check_flags_each_problem_on_crafted_rows():
    labels = ["normal", "broken", "missing"]
    images = [row(i) for i in range(1, 13)]  # 12 healthy normal photos, distinct hashes
    images += [
        row(20, label="broken", width=80),  # tiny (one side under 96 px)
        row(21, label="broken", height=95),  # tiny too
        row(22, label="broken", brightness=20.0),  # dark
        row(23, label="broken", sharpness=5.0),  # blurred
        row(24, label=None),  # unlabeled
        row(25, label="broken", phash="00000000000000ff"),
        row(26, label="broken", phash="00000000000000ff"),  # identical look to 25
        row(27, label="broken", phash="00000000000000f8"),  # 3 bits from 25 and 26
    ]
    report = health.check(images, labels, min_class_images=10)
    assert report.tiny == [20, 21]
    assert report.dark == [22]
    assert report.blurred == [23]
    assert report.unlabeled == [24]
    assert report.identical_groups == [[25, 26]]
    assert sorted(report.near_pairs) == [(25, 27, 3), (26, 27, 3)]  # identical ones are not "near"
    assert report.few_classes == {"broken": 7, "missing": 0}
    assert report.problems == 2 + 1 + 1 + 1 + 1 + 2 + 2


def test_healthy_dataset_has_no_problems():
    labels = ["normal", "missing"]
    images = [row(i, label=labels[i % 2]) for i in range(1, 21)]
    report = health.check(images, labels, min_class_images=10)
    assert report == health.HealthReport()
    assert report.problems == 0


def test_thresholds_are_strict_bounds():
    images = [row(1, width=health.TINY_PX, brightness=health.DARK_MEAN, sharpness=health.BLUR_LAPLACIAN)]
    report = health.check(images, ["normal"], min_class_images=1)
    assert (report.tiny, report.dark, report.blurred, report.few_classes) == ([], [], [], {})
    images = [
        row(1, width=health.TINY_PX - 1, brightness=health.DARK_MEAN - 0.1, sharpness=health.BLUR_LAPLACIAN - 0.1)
    ]
    report = health.check(images, ["normal"], min_class_images=2)
    assert (report.tiny, report.dark, report.blurred, report.few_classes) == ([1], [1], [1], {"normal": 1})


def test_real_photos_give_usable_signals(ws, admin, tmp_path):
    """The signals stored at import separate a sharp, a blurred and a dark photo."""
    import io

    import numpy as np
    from PIL import Image, ImageFilter

    from core import ingest

    rng = np.random.default_rng(0)
    sharp = Image.fromarray(rng.integers(0, 256, (160, 160, 3), dtype=np.uint8), "RGB")
    variants = {
        "sharp.png": sharp,
        "blurred.png": sharp.filter(ImageFilter.GaussianBlur(6)),
        "dark.png": Image.fromarray((np.asarray(sharp) // 10).astype(np.uint8), "RGB"),
    }
    for name, img in variants.items():
        buf = io.BytesIO()
        img.save(buf, "PNG")
        (tmp_path / name).write_bytes(buf.getvalue())
    ingest.import_paths(ws, admin, [tmp_path / n for n in variants], label="normal")
    images = store.all_images(ws.conn)
    by_name = {im.display_name: im.id for im in images}
    report = health.check(images, ["normal"], min_class_images=1)
    assert report.blurred == [by_name["blurred.png"]]
    assert report.dark == [by_name["dark.png"]]
    assert report.tiny == [] and report.unlabeled == []


# ---- near-duplicate pairs looked at and kept (issue 13, point 10) ----------------------------------


def test_a_kept_pair_stops_showing_and_the_keep_is_audited(ws, admin, labeler, viewer):
    ids = ingest.import_uploads(ws, admin, [(f"normal/{i}.jpg", make_image(i)) for i in range(3)]).imported_ids
    images = [store.get_image(ws.conn, i) for i in ids]
    near = [
        replace(images[0], phash="00000000000000ff"),
        replace(images[1], phash="00000000000000f8"),
        replace(images[2], phash="00000000000000f0"),
    ]
    assert len(health.check(near, ["normal"], 1).near_pairs) == 3
    assert health.kept_pairs(ws.conn) == frozenset()
    with pytest.raises(PermissionDenied):
        health.keep_pair(ws.conn, viewer, ids[0], ids[1])
    with pytest.raises(NotFoundError):
        health.keep_pair(ws.conn, labeler, ids[0], 999)
    health.keep_pair(ws.conn, labeler, ids[1], ids[0])  # either order
    assert health.kept_pairs(ws.conn) == {(ids[0], ids[1])}
    report = health.check(near, ["normal"], 1, health.kept_pairs(ws.conn))
    assert sorted(p[:2] for p in report.near_pairs) == [(ids[0], ids[2]), (ids[1], ids[2])]
    health.keep_pair(ws.conn, labeler, ids[0], ids[1])  # twice: stored once
    assert health.kept_pairs(ws.conn) == {(ids[0], ids[1])}
    entry = audit.query(ws.conn, user=labeler.name)[0]
    assert entry.action == "settings" and entry.target == f"near-duplicates #{ids[0]} #{ids[1]}"
