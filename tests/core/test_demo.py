"""core.demo: the synthetic bolt-photo generator is deterministic, plausible, and its classes differ."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core import audit, demo, ingest, store
from core.errors import PermissionDenied
from tests.conftest import make_image


def test_same_seed_gives_the_same_bytes():
    for label in demo.CLASSES:
        first, second = demo.render_crop(11, label), demo.render_crop(11, label)
        assert first.jpeg == second.jpeg
        assert first.box == second.box
        assert np.array_equal(np.asarray(first.image), np.asarray(second.image))


def test_different_seeds_and_classes_differ():
    photos = [demo.render_crop(seed, label) for seed in (1, 2) for label in demo.CLASSES]
    assert len({p.jpeg for p in photos}) == len(photos)


def test_demo_set_takes_classes_in_turn_and_is_deterministic():
    photos = demo.demo_set(7, seed=2)
    assert [p.label for p in photos] == [demo.CLASSES[i % 3] for i in range(7)]
    assert [p.jpeg for p in photos] == [p.jpeg for p in demo.demo_set(7, seed=2)]
    assert photos[0].jpeg != demo.demo_set(1, seed=3)[0].jpeg


@pytest.mark.parametrize("label", demo.CLASSES)
def test_each_class_renders_a_plausible_crop(label):
    for seed in range(6):
        photo = demo.render_crop(seed, label)
        assert photo.label == label
        width, height = photo.image.size
        assert 110 <= width <= 300 and width == height
        assert photo.image.mode == "RGB"
        with Image.open(io.BytesIO(photo.jpeg)) as decoded:
            assert decoded.format == "JPEG" and decoded.size == (width, height)
        arr = np.asarray(photo.image, dtype=np.float32)
        assert 20 < arr.mean() < 235 and arr.std() > 8  # neither blank nor saturated
        x0, y0, x1, y1 = photo.box
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert x0 < width / 2 < x1 and y0 < height / 2 < y1  # the bolt is near the middle
        assert (x1 - x0) >= 0.3 * width and (y1 - y0) >= 0.3 * height


def test_unknown_class_is_refused():
    with pytest.raises(ValueError, match="'rusty'.*normal, broken, missing"):
        demo.render_crop(0, "rusty")


def dark_share_in_box_centre(photo: demo.DemoPhoto) -> float:
    """Share of very dark pixels (< 40) in the central half of the bolt box."""
    x0, y0, x1, y1 = photo.box
    grey = np.asarray(photo.image.convert("L"), dtype=np.float32)[y0:y1, x0:x1]
    h, w = grey.shape
    return float((grey[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] < 40).mean())


def test_classes_differ_where_the_bolt_is():
    """An empty bore is a dark hole; a hex socket is dark too but smaller; a fracture face is
    mid-grey. Averaged over 20 photos each the order holds with a clear margin."""
    share = {
        label: np.mean([dark_share_in_box_centre(demo.render_crop(seed, label)) for seed in range(20)])
        for label in demo.CLASSES
    }
    assert share["missing"] > share["normal"] + 0.1, share
    assert share["normal"] > share["broken"] + 0.1, share


# ---- clearing the demo (issue 13, point 9) --------------------------------------------------------


def test_admin_moves_every_demo_photo_to_the_trash_and_nothing_else(ws, admin, labeler):
    demo_ids = ingest.import_uploads(
        ws,
        admin,
        [(f"demo/{p.label}/d{i}.jpg", p.jpeg) for i, p in enumerate(demo.demo_set(6, seed=5))],
        image_source="demo",
        event_source="import",
    ).imported_ids
    own = ingest.import_uploads(ws, labeler, [(f"normal/o{i}.jpg", make_image(70 + i)) for i in range(3)])
    assert len(demo_ids) == 6
    with pytest.raises(PermissionDenied) as refused:
        demo.trash_all(ws.conn, labeler)
    assert refused.value.key == "error.permission"
    assert store.stats(ws.conn)["total"] == 9

    assert demo.trash_all(ws.conn, admin) == 6
    live = {im.id for im in store.all_images(ws.conn)}
    assert live == set(own.imported_ids)
    trashed = store.query_ids(ws.conn, store.ImageQuery(trashed=True))
    assert sorted(trashed) == sorted(demo_ids)
    entry = audit.query(ws.conn, user=admin.name, actions=("delete",))[0]
    assert entry.details == {"count": 6} and all(f"#{i}" in entry.target for i in demo_ids)
    assert demo.trash_all(ws.conn, admin) == 0  # nothing left: a second press changes nothing
    store.set_trashed(ws.conn, admin, demo_ids, False)  # the ordinary trash: restorable
    assert store.stats(ws.conn)["total"] == 9
