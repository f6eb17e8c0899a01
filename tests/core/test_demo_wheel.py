"""The synthetic wheel: deterministic, twelve bolts where the positions say, and positions that move with a
photo taken rotated, shifted and scaled."""

from __future__ import annotations

import numpy as np
import pytest

from core import demo_wheel

SMALL = (1224, 1024)  # half the camera's size: the same drawing, a quarter of the time


def patch(image, centre, half: int) -> np.ndarray:
    x, y = (round(c) for c in centre)
    return np.asarray(image.convert("L"), dtype=float)[y - half : y + half, x - half : x + half]


def test_the_same_seed_gives_the_same_photo_and_labels():
    a, b = demo_wheel.render_wheel(3, size=SMALL), demo_wheel.render_wheel(3, size=SMALL)
    assert a.jpeg == b.jpeg and a.positions == b.positions
    labels = [p.label for p in a.positions]
    assert len(labels) == 12 and labels.count("broken") == 2 and labels.count("missing") == 1
    assert [p.name for p in a.positions] == [f"P{n}" for n in range(1, 13)]
    assert demo_wheel.render_wheel(4, size=SMALL).jpeg != a.jpeg


@pytest.mark.parametrize(("angle", "shift", "scale"), [(17.0, (40.0, -25.0), 0.92), (-20.0, (-30.0, 30.0), 1.08)])
def test_positions_move_with_the_photo(angle, shift, scale):
    still = demo_wheel.render_wheel(5, size=SMALL)
    moved = demo_wheel.render_wheel(5, angle=angle, shift=shift, scale=scale, size=SMALL)
    assert [p.label for p in moved.positions] == [p.label for p in still.positions]
    half = 12  # well inside the head: the socket, the bore or the stub
    for a, b in zip(still.positions, moved.positions, strict=True):
        side = (b.box[2] - b.box[0]) / (a.box[2] - a.box[0])
        assert side == pytest.approx(scale, abs=0.02)
        same, other = patch(still.image, a.centre, half).mean(), patch(moved.image, b.centre, half).mean()
        assert abs(same - other) < 25, (a.name, same, other)
    # and not by chance: the hub between two bolts looks different from a bolt's head
    gap = np.mean([patch(moved.image, ((p.centre[0] + q.centre[0]) / 2, (p.centre[1] + q.centre[1]) / 2), half).std()
                   for p, q in zip(moved.positions, moved.positions[1:], strict=False)])  # fmt: skip
    heads = np.mean([patch(moved.image, p.centre, half).std() for p in moved.positions])
    assert heads > 2 * gap


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="12 labels"):
        demo_wheel.render_wheel(0, labels=("normal",) * 11, size=SMALL)
    with pytest.raises(ValueError, match="12 labels"):
        demo_wheel.render_wheel(0, labels=("rusty",) * 12, size=SMALL)
