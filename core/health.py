"""Dataset health: unlabeled photos, identical-looking and near-duplicate photos (perceptual hash),
tiny, dark or blurred photos, and classes too small to train. Pure functions over stored rows, and the
record of near-duplicate pairs a user looked at and kept."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from core import audit, auth, db, store
from core.store import Image

TINY_PX = 96  # a bolt crop is 110-270 px; below this there is too little to judge
DARK_MEAN = 35.0  # mean grey level (0-255) of the thumbnail
BLUR_LAPLACIAN = 20.0  # variance of the Laplacian on the 256 px thumbnail
NEAR_BITS = 5  # dHash bits that may differ for two photos to count as near-duplicates
KEPT_SETTING = "near_duplicates_kept"  # JSON [[id, id], ...]: pairs looked at and kept (a setting: no schema change)


@dataclass
class HealthReport:
    unlabeled: list[int] = field(default_factory=list)
    identical_groups: list[list[int]] = field(default_factory=list)
    near_pairs: list[tuple[int, int, int]] = field(default_factory=list)  # (id, id, differing bits)
    tiny: list[int] = field(default_factory=list)
    dark: list[int] = field(default_factory=list)
    blurred: list[int] = field(default_factory=list)
    few_classes: dict[str, int] = field(default_factory=dict)

    @property
    def problems(self) -> int:
        return (
            len(self.unlabeled)
            + len(self.identical_groups)
            + len(self.near_pairs)
            + len(self.tiny)
            + len(self.dark)
            + len(self.blurred)
            + len(self.few_classes)
        )


def near_duplicate_pairs(hashes: list[str], max_bits: int = NEAR_BITS) -> list[tuple[int, int, int]]:
    """Index pairs (i < j) whose 64-bit hashes differ in 0..max_bits bits; vectorised in row blocks."""
    if len(hashes) < 2:
        return []
    values = np.array([int(h, 16) for h in hashes], dtype=np.uint64)
    pairs: list[tuple[int, int, int]] = []
    for start in range(0, len(values), 64):  # 64 x N blocks: ~50 MB at 100k photos
        block = values[start : start + 64, None] ^ values[None, :]
        bits = np.bitwise_count(block)
        rows, cols = np.nonzero(bits <= max_bits)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if i < c:
                pairs.append((i, c, int(bits[r, c])))
    return pairs


def check(
    images: list[Image], labels: list[str], min_class_images: int, kept: frozenset[tuple[int, int]] = frozenset()
) -> HealthReport:
    """The health report of the live (not trashed) images; near-duplicate pairs in `kept` are left out."""
    report = HealthReport()
    by_hash: dict[str, list[int]] = defaultdict(list)
    counts = dict.fromkeys(labels, 0)
    for image in images:
        if image.label is None:
            report.unlabeled.append(image.id)
        else:
            counts[image.label] = counts.get(image.label, 0) + 1
        by_hash[image.phash].append(image.id)
        if min(image.width, image.height) < TINY_PX:
            report.tiny.append(image.id)
        if image.brightness < DARK_MEAN:
            report.dark.append(image.id)
        if image.sharpness < BLUR_LAPLACIAN:
            report.blurred.append(image.id)
    report.identical_groups = [ids for ids in by_hash.values() if len(ids) > 1]
    ids = [image.id for image in images]
    report.near_pairs = [
        (ids[i], ids[j], bits)
        for i, j, bits in near_duplicate_pairs([im.phash for im in images])
        if bits > 0 and (min(ids[i], ids[j]), max(ids[i], ids[j])) not in kept
    ]
    report.few_classes = {name: n for name, n in counts.items() if n < min_class_images}
    return report


def photo_issues(width: int, height: int, brightness: float, sharpness: float) -> list[str]:
    """Why one photo is unfit to judge ('tiny', 'dark', 'blurred'), with the thresholds the dataset uses."""
    issues = []
    if min(width, height) < TINY_PX:
        issues.append("tiny")
    if brightness < DARK_MEAN:
        issues.append("dark")
    if sharpness < BLUR_LAPLACIAN:
        issues.append("blurred")
    return issues


def kept_pairs(conn: sqlite3.Connection) -> frozenset[tuple[int, int]]:
    """Near-duplicate pairs (smaller id first) that a user looked at and kept."""
    return frozenset((min(a, b), max(a, b)) for a, b in json.loads(store.get_setting(conn, KEPT_SETTING, "[]")))


def keep_pair(conn: sqlite3.Connection, actor: auth.Actor, first: int, second: int) -> None:
    """Record that a near-duplicate pair was looked at and both photos stay, so the pair stops showing.
    Labeler or higher (it is a labelling decision); audited."""
    auth.require(actor, "relabel")
    pair = (min(first, second), max(first, second))
    for image_id in pair:
        store.get_image(conn, image_id)
    with db.transaction(conn):
        kept = sorted(kept_pairs(conn) | {pair})
        store.put_setting(conn, KEPT_SETTING, json.dumps([list(p) for p in kept]))
        audit.record(conn, actor.name, "settings", f"near-duplicates #{pair[0]} #{pair[1]}", kept=True)
