"""Suspect labels (confident learning on out-of-fold probe probabilities): ranking logic, CLI, real screws."""

from __future__ import annotations

import random

import numpy as np
import pytest

from core import store
from core.ml import embed
from core.workspace import open_workspace
from tests.core.train_helpers import ADMIN, add_demo, cli_json

SUSPECT_KEYS = {"image", "given", "predicted", "score"}


@pytest.fixture
def separable_ws(ws, monkeypatch):
    """30 demo photos whose 'embeddings' are tight, well-separated clusters around their true class."""
    add_demo(ws, 30)
    images = store.all_images(ws.conn)
    names = ["normal", "broken", "missing"]
    rng = np.random.default_rng(0)
    # every dimension carries class signal: no pure-noise dimension for the probe to overfit in a small fold
    features = {im.sha256: np.repeat(np.eye(3)[names.index(im.label)], 4) * 6 + rng.normal(0, 0.5, 12) for im in images}
    calls = []

    def fake_embeddings(conn, spec, shas, paths, device, hooks=None):
        calls.append(list(shas))
        return np.stack([features[sha] for sha in shas])

    monkeypatch.setattr(embed, "embeddings", fake_embeddings)
    return ws, images, calls


def test_flipped_labels_are_ranked_first_and_flagged(separable_ws):
    ws, images, calls = separable_ws
    by_label = {name: [im for im in images if im.label == name] for name in ("normal", "broken", "missing")}
    flips = {
        by_label["normal"][0].id: ("normal", "broken"),
        by_label["broken"][1].id: ("broken", "missing"),
        by_label["missing"][2].id: ("missing", "normal"),
    }
    for image_id, (_, wrong) in flips.items():
        assert store.relabel(ws.conn, ADMIN, [image_id], wrong) == 1

    found = embed.find_suspects(ws, arch="tiny_cnn")
    assert len(calls) == 1 and len(found) == 30 and {s["image"] for s in found} == {im.id for im in images}
    top = found[:3]
    assert {s["image"] for s in top} == set(flips)
    for s in top:
        true, wrong = flips[s["image"]]
        assert (s["given"], s["predicted"], s["flagged"]) == (wrong, true, True)
        assert s["score"] > 0.3  # the rival class is clearly likelier than the given one
    rest = found[3:]
    assert not any(s["flagged"] for s in rest), rest[:3]
    assert all(s["score"] < top[-1]["score"] for s in rest)
    assert all(s["predicted"] == s["given"] for s in rest if s["score"] <= 0)
    assert [s["score"] for s in rest] == sorted((s["score"] for s in rest), reverse=True)
    assert embed.find_suspects(ws, top=2, arch="tiny_cnn") == found[:2]  # seeded: the same ranking again


def test_no_suspects_without_two_labels_of_two_photos(separable_ws):
    ws, images, calls = separable_ws
    store.relabel(ws.conn, ADMIN, [im.id for im in images[1:]], "normal")
    assert embed.find_suspects(ws, arch="tiny_cnn") == [] and calls == []


@pytest.mark.slow
def test_screws_suspects_find_flipped_labels(tmp_path, screws_dir):
    path = tmp_path / "screws-ws"
    assert cli_json(path, "import", str(screws_dir / "train"))["imported"] == 400
    ws = open_workspace(path)
    try:
        images = sorted(store.all_images(ws.conn), key=lambda im: im.id)
        flipped = random.Random(7).sample(images, round(len(images) * 0.05))
        other = {"normal": "missing", "missing": "normal"}
        for im in flipped:
            assert store.relabel(ws.conn, ADMIN, [im.id], other[im.label]) == 1
        given = {im.id: other[im.label] for im in flipped}
    finally:
        ws.close()

    found = cli_json(path, "suspects", "--json", timeout=1800)
    assert len(found) == 400 and all(set(s) == SUSPECT_KEYS for s in found)
    top = found[: 2 * len(flipped)]
    caught = [s for s in top if s["image"] in given]
    assert len(caught) >= 0.9 * len(flipped), (len(caught), len(flipped), top)
    assert all(s["given"] == given[s["image"]] and s["predicted"] != s["given"] for s in caught)
    assert cli_json(path, "suspects", "--top", "5", "--json", timeout=600) == found[:5]  # cached embeddings
