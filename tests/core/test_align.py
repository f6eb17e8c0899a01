"""core.align on synthetic stations: a known motion is recovered on another unit of the design, a photo without
the design's structure is refused, the manual fix is exact, and crops come back upright where they belong."""

from __future__ import annotations

import math
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from core import align, i18n
from core.errors import ValidationError
from tests.core import align_scenes as scenes

SIZE = (640, 560)
REASONS = {"inspect.align.no_structure", "inspect.align.weak_match", "inspect.align.ambiguous"}


@pytest.fixture(scope="module")
def station():
    return scenes.wheel(SIZE, 12, scenes.Unit(seed=1))


def other_unit(seed: int, valve: bool = True) -> Image.Image:
    """Another unit of the design: its own scratches, colour, light and wear (bolts missing or broken)."""
    rng = np.random.default_rng(seed)
    states = tuple(rng.choice(["normal", "missing", "broken"], 12, p=[0.7, 0.15, 0.15]))
    base = tuple(int(v) for v in rng.uniform(90, 200, 3))
    unit = scenes.Unit(seed=100 + seed, states=states, base=base, light=rng.uniform(-0.6, 0.6), valve=valve)
    return scenes.wheel(SIZE, 12, unit)[0]


def mapped(result: align.Alignment, boxes) -> np.ndarray:
    return scenes.centres(boxes, np.array(result.matrix).reshape(2, 3))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_another_unit_moved_by_hand_is_aligned(station, seed):
    reference, boxes = station
    rng = np.random.default_rng(seed)
    angle, scale, shift = rng.uniform(-20, 20), rng.uniform(0.9, 1.1), tuple(rng.uniform(-60, 60, 2))
    truth = scenes.motion(SIZE, angle, scale, shift)
    photo = scenes.moved(other_unit(seed), truth)
    result = align.align(reference, photo, boxes)
    assert result.ok, result.reason
    assert result.method == "auto" and 0.5 <= result.score <= 1
    errors = np.linalg.norm(mapped(result, boxes) - scenes.centres(boxes, truth), axis=1)
    assert errors.max() < 4.0, errors  # a box is 76 px: 4 px is 5 % of it


def test_the_same_unit_moved_is_aligned_to_a_pixel(station):
    reference, boxes = station
    truth = scenes.motion(SIZE, -17.0, 1.08, (35.0, -50.0))
    result = align.align(reference, scenes.moved(reference, truth), boxes)
    assert result.ok
    assert np.abs(mapped(result, boxes) - scenes.centres(boxes, truth)).max() < 1.5


def test_a_kept_reference_gives_the_same_answer(station):
    reference, boxes = station
    photo = scenes.moved(other_unit(5), scenes.motion(SIZE, -8.0, 0.95, (12.0, 30.0)))
    align._PREPARED.clear()
    cold = align.align(reference, photo, boxes)
    assert align.align(reference, photo, boxes) == cold  # prepared once, kept
    assert align.align(reference.copy(), photo, boxes) == cold  # another object: prepared again, same answer
    assert len(align._PREPARED) == align.PREPARED_KEPT
    align.align(reference, photo, boxes[:-1])  # other boxes: prepared on their own
    assert (id(reference), np.array(boxes[:-1], dtype=float).tobytes()) in align._PREPARED


def test_a_photo_at_another_resolution_is_aligned(station):
    reference, boxes = station
    truth = scenes.motion(SIZE, 9.0, 1.0, (20.0, 10.0))
    photo = scenes.moved(other_unit(7), truth)
    half = photo.resize((SIZE[0] // 2, SIZE[1] // 2), Image.Resampling.BOX)
    result = align.align(reference, half, boxes)
    assert result.ok
    expected = scenes.centres(boxes, truth) / 2
    assert np.abs(mapped(result, boxes) - expected).max() < 3.0


@pytest.mark.parametrize("canvas", [(1.5, 1.5), (1.6, 1.0), (1.0, 1.4)], ids=["larger", "wider", "taller"])
def test_a_photo_on_a_larger_canvas_is_aligned(station, canvas):
    """The same camera at the same distance, the frame wider than the reference's (the unit kept whole while
    turned): the equal-area prior would shrink the photo by the canvas; the same-pixel-scale prior finds it."""
    reference, boxes = station
    size = (round(SIZE[0] * canvas[0]), round(SIZE[1] * canvas[1]))
    truth = scenes.motion(SIZE, -14.0, 1.05, (25.0, -20.0))
    truth[:, 2] += ((size[0] - SIZE[0]) / 2, (size[1] - SIZE[1]) / 2)  # the unit in the middle of the canvas
    out = cv2.warpAffine(np.asarray(other_unit(11)), truth, size, borderMode=cv2.BORDER_REPLICATE)
    result = align.align(reference, Image.fromarray(out), boxes)
    assert result.ok, result.reason
    assert np.abs(mapped(result, boxes) - scenes.centres(boxes, truth)).max() < 4.0


@pytest.mark.parametrize(
    "photo",
    [
        pytest.param(lambda rng: rng.integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8), id="noise"),
        pytest.param(
            lambda rng: np.clip(cv2.GaussianBlur(rng.normal(0, 60, SIZE[::-1]), (0, 0), 6) * 4 + 128, 0, 255),
            id="blotches",
        ),
        pytest.param(lambda rng: np.full((SIZE[1], SIZE[0], 3), 120), id="blank"),
        pytest.param(lambda rng: np.asarray(scenes.wheel(SIZE, 8, scenes.Unit(seed=3))[0]), id="other-design"),
    ],
)
def test_a_photo_without_the_design_is_refused(station, photo):
    reference, boxes = station
    image = Image.fromarray(np.asarray(photo(np.random.default_rng(0))).astype(np.uint8))
    result = align.align(reference, image, boxes)
    assert not result.ok
    assert result.reason_key in REASONS and result.reason
    with pytest.raises(ValidationError) as caught:
        align.crop(image, result, boxes[0])
    assert caught.value.key == "inspect.align.error_not_aligned"


def test_a_symmetric_design_without_a_mark_is_refused_not_guessed():
    """12 bolts repeat every 30°: without the valve nothing says which bolt is P1, so a photo is refused as
    ambiguous, or, where what else it shows happens to tell, aligned right; never aligned wrong."""
    reference, boxes = scenes.wheel(SIZE, 12, scenes.Unit(seed=1, valve=False))
    outcomes = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        truth = scenes.motion(SIZE, rng.uniform(-20, 20), rng.uniform(0.9, 1.1), tuple(rng.uniform(-60, 60, 2)))
        result = align.align(reference, scenes.moved(other_unit(seed, valve=False), truth), boxes)
        if result.ok:
            assert np.abs(mapped(result, boxes) - scenes.centres(boxes, truth)).max() < 4.0, seed
        outcomes.append(result.reason_key)
    assert outcomes.count("inspect.align.ambiguous") >= 4, outcomes


def test_too_few_positions_and_bad_boxes(station):
    reference, boxes = station
    result = align.align(reference, reference, boxes[:2])
    assert not result.ok and result.reason_key == "inspect.align.too_few_positions"
    with pytest.raises(ValidationError) as caught:
        align.align(reference, reference, [(10, 10, 5, 20), *boxes])
    assert caught.value.key == "inspect.align.error_boxes"


def similarity(angle: float, scale: float, tx: float, ty: float) -> np.ndarray:
    c, s = scale * math.cos(math.radians(angle)), scale * math.sin(math.radians(angle))
    return np.array([[c, -s, tx], [s, c, ty]])


@pytest.mark.parametrize("count", [2, 3, 5])
def test_from_points_is_exact(count):
    m = similarity(23.0, 0.93, 41.5, -12.25)
    ref = np.random.default_rng(count).uniform(0, 500, (count, 2))
    photo = ref @ m[:, :2].T + m[:, 2]
    result = align.from_points([tuple(p) for p in ref], [tuple(p) for p in photo])
    assert result.ok and result.method == "manual"
    np.testing.assert_allclose(np.array(result.matrix).reshape(2, 3), m, atol=1e-9)


@pytest.mark.parametrize(
    ("ref", "photo", "key"),
    [
        ([(0, 0)], [(1, 1)], "inspect.align.error_points"),
        ([(0, 0), (5, 5)], [(1, 1)], "inspect.align.error_points"),
        ([(3, 3), (3, 3)], [(1, 1), (9, 9)], "inspect.align.error_points_coincide"),
        ([(0, 0), (5, 5)], [(4, 4), (4, 4)], "inspect.align.error_points_coincide"),
        ([(0, 0), (float("nan"), 5)], [(1, 1), (2, 2)], "inspect.align.error_points_finite"),
    ],
)
def test_from_points_refuses_bad_points(ref, photo, key):
    with pytest.raises(ValidationError) as caught:
        align.from_points(ref, photo)
    assert caught.value.key == key


def test_corners_and_bounding_box():
    turned = align.Alignment(True, 1.0, tuple(similarity(90.0, 2.0, 100.0, 0.0).ravel()), "manual")
    # (x, y) -> (100 - 2y, 2x)
    np.testing.assert_allclose(align.corners(turned, (10, 20, 30, 25)), [(60, 20), (60, 60), (50, 60), (50, 20)])
    assert align.bounding_box(turned, (10, 20, 30, 25)) == (50, 20, 60, 60)
    assert align.bounding_box(align.identity(), (3, 4, 5, 6)) == (3, 4, 5, 6)


def test_crop_with_identity_is_the_box_and_grows_by_the_margin():
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    plain = align.crop(photo, align.identity(), (40, 30, 80, 70))
    assert plain is not None and np.array_equal(np.asarray(plain), np.asarray(photo.crop((40, 30, 80, 70))))
    grown = align.crop(photo, align.identity(), (40, 30, 80, 70), margin=0.25)
    assert grown is not None and grown.size == (60, 60)
    assert np.array_equal(np.asarray(grown), np.asarray(photo.crop((30, 20, 90, 80))))


def test_crop_outside_the_photo_is_none_unless_most_of_the_box_is_inside():
    photo = Image.new("RGB", (100, 100), (50, 60, 70))
    partly = align.crop(photo, align.identity(), (-20, 10, 60, 50))  # 75% inside: edge pixels fill the rest
    assert partly is not None and partly.size == (80, 40)
    assert (np.asarray(partly)[:, :20] == (50, 60, 70)).all()
    grown = align.crop(photo, align.identity(), (5, 5, 95, 95), margin=0.2)  # the margin may leave the photo
    assert grown is not None and grown.size == (126, 126)
    assert align.crop(photo, align.identity(), (90, 90, 140, 140)) is None
    assert align.crop(photo, align.identity(), (-30, 10, 10, 40)) is None
    edge = align.crop(photo, align.identity(), (-1, 0, 40, 40))  # 1 px over: edge pixels repeat
    assert edge is not None and edge.size == (41, 40)
    with pytest.raises(ValidationError):
        align.crop(photo, align.identity(), (0, 0, 10, 10), margin=-0.1)


def test_crop_undoes_the_motion(station):
    """A turned, scaled, shifted photo gives back the reference's box content, upright."""
    reference, boxes = station
    m = scenes.motion(SIZE, 27.0, 1.1, (-25.0, 30.0))
    photo = scenes.moved(reference, m)
    moved_by = align.Alignment(True, 1.0, tuple(m.ravel()), "manual")
    for box in boxes[:3]:
        got = align.crop(photo, moved_by, box, margin=0.1)
        want = align.crop(reference, align.identity(), box, margin=0.1)
        assert got is not None and want is not None and got.size == want.size
        diff = np.abs(np.asarray(got, dtype=float) - np.asarray(want, dtype=float)).mean()
        assert diff < 12  # resampling only, not another place
        x0, y0, x1, y1 = box
        elsewhere = align.crop(reference, align.identity(), (x0 + 12, y0, x1 + 12, y1), margin=0.1)
        assert np.abs(np.asarray(elsewhere, dtype=float) - np.asarray(want, dtype=float)).mean() > 2 * diff


def test_to_json_and_back():
    result = align.from_points([(0, 0), (10, 0)], [(5, 5), (5, 15)])
    data = result.to_json()
    assert set(data) == {"ok", "score", "method", "matrix", "reason"}
    back = align.from_json(data)
    assert back.ok and back.method == "manual"
    np.testing.assert_allclose(back.matrix, result.matrix, atol=1e-6)
    for bad in ({"ok": True}, {**data, "matrix": [1, 2, 3]}, {**data, "matrix": [float("nan")] * 6}):
        with pytest.raises(ValidationError):
            align.from_json(bad)


def test_every_key_of_the_module_is_translated():
    root = Path(__file__).resolve().parents[2]
    source = (root / "core" / "align.py").read_text(encoding="utf-8")
    used = set(re.findall(r'"(inspect\.align\.[a-z_]+)"', source))
    assert REASONS | {"inspect.align.too_few_positions", "inspect.align.error_points"} <= used
    assert not used - set(i18n.EN) and not used - set(i18n.KO)
    assert "{reference}" in i18n.KO["inspect.align.error_points"]
