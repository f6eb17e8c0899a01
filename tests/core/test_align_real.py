"""Alignment on the real screw-blocks photos (acceptance 1-2 of issue 16): station = train/34.jpg and its four
boxes; the 46 test photos as they are, and moved (rotated ±20°, shifted ±60 px, scaled 0.9-1.1, fixed seed).

The criterion. positions.csv's boxes are the source's fixed boxes (256 px, the same in every photo); the screw or
hole lies inside, but up to ~100 px off their centre, so a box is no measure of where alignment should land.
What alignment must do is bring the station's screw onto the photo's screw. So each position is measured at its
feature: the centre of the screw or hole in train/34.jpg (REFERENCE_CENTRES), mapped by the alignment, against
the centre of the screw or hole in the test photo (TRUTH). Both were located once inside the fixed boxes (the
peak of pooled edge energy, with the box given: a search of one box, not an alignment) and checked by eye on a
contact sheet of all 184 positions at 1:1 and the doubtful ones at 2:1; six screws whose peak sat on the rim
of a dark or blurred head were set to the head's centre by a circle fit checked by eye (marked). They are
frozen here so the test does not grade the code by itself.
A position is right when the photo is aligned (ok) and the mapped centre lies within HIT_PX of the truth, i.e. on
the screw head itself (~55 px across; a hole's fibres spread as far): the crop then holds the feature where the
station's crop holds it, give or take the head's radius (the model was trained on crops where it sits up to
~100 px off centre). The blocks are not quite alike (hand-drilled, photographed at a slant): the best similarity
through the truth itself leaves a median 6 px and at worst 16 px (photo 134), so no aligner of this kind can
promise less than that. A refused photo counts all its positions as wrong.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from PIL import Image

from core import align
from tests.conftest import SHARED_DATASETS

pytestmark = pytest.mark.slow

BOXES = [(5, 69, 261, 326), (305, 69, 561, 326), (5, 429, 261, 686), (325, 429, 581, 686)]
REFERENCE_CENTRES = [(166, 158), (466, 185), (143, 506), (453, 518)]
HIT_PX = 25.0
TRUTH = {
    101: ((92, 238), (399, 226), (108, 586), (421, 566)),
    102: ((159, 243), (458, 234), (170, 604), (491, 582)),
    103: ((150, 200), (460, 210), (137, 536), (454, 565)),
    104: ((125, 215), (441, 225), (119, 572), (438, 564)),
    105: ((155, 210), (460, 205), (161, 556), (483, 547)),
    106: ((99, 180), (402, 174), (107, 530), (419, 517)),
    107: ((156, 198), (458, 191), (162, 545), (482, 528)),
    108: ((120, 179), (433, 165), (137, 529), (466, 501)),
    109: ((98, 199), (416, 181), (116, 563), (447, 532)),  # 4th by eye: a dark head, the peak sat on its rim
    110: ((105, 215), (416, 208), (111, 579), (435, 564)),
    111: ((153, 174), (454, 178), (147, 524), (460, 518)),
    112: ((153, 195), (460, 192), (148, 550), (464, 539)),
    113: ((138, 117), (455, 116), (138, 472), (461, 455)),  # 2nd by eye
    114: ((67, 240), (381, 213), (104, 580), (421, 566)),
    115: ((148, 220), (461, 204), (173, 564), (478, 534)),
    116: ((93, 241), (403, 209), (128, 586), (445, 556)),
    117: ((147, 174), (450, 180), (144, 523), (458, 515)),
    118: ((178, 165), (479, 190), (152, 513), (466, 526)),
    119: ((159, 193), (459, 213), (137, 541), (449, 551)),
    120: ((99, 225), (404, 206), (113, 571), (431, 556)),
    121: ((134, 176), (448, 157), (168, 529), (481, 490)),
    122: ((78, 185), (390, 160), (110, 522), (427, 504)),
    123: ((149, 236), (455, 227), (160, 581), (473, 569)),
    124: ((113, 243), (426, 220), (131, 581), (451, 569)),
    125: ((158, 198), (460, 209), (159, 562), (484, 528)),
    126: ((145, 253), (454, 250), (168, 588), (488, 587)),
    127: ((113, 233), (427, 214), (133, 581), (452, 568)),
    128: ((99, 238), (412, 215), (127, 586), (444, 557)),
    129: ((96, 212), (406, 191), (127, 559), (439, 527)),
    130: ((68, 234), (382, 200), (110, 569), (429, 543)),
    131: ((122, 231), (429, 206), (153, 575), (467, 545)),
    132: ((118, 250), (431, 224), (146, 585), (469, 565)),
    133: ((62, 233), (376, 198), (108, 572), (421, 546)),
    134: ((145, 220), (460, 208), (163, 539), (481, 542)),
    135: ((110, 209), (417, 206), (110, 553), (429, 551)),
    136: ((202, 130), (493, 173), (171, 475), (485, 506)),
    137: ((145, 214), (445, 221), (137, 573), (456, 572)),
    138: ((152, 221), (458, 218), (148, 573), (464, 565)),
    139: ((117, 249), (428, 219), (152, 608), (467, 555)),
    140: ((149, 227), (457, 223), (149, 561), (468, 569)),
    141: ((130, 231), (435, 209), (153, 567), (460, 548)),
    142: ((126, 208), (429, 191), (149, 578), (462, 524)),
    143: ((120, 227), (434, 202), (148, 577), (473, 558)),
    144: ((159, 197), (464, 182), (177, 549), (487, 527)),  # by eye: a blurred close-up
    145: ((128, 222), (441, 206), (147, 575), (469, 548)),
    146: ((107, 209), (417, 204), (119, 551), (433, 537)),
}


@pytest.fixture(scope="module")
def blocks():
    path = SHARED_DATASETS / "screw-blocks"
    if not (path / "test").is_dir():
        pytest.skip("../shared/datasets/screw-blocks is not present")
    reference = Image.open(path / "train" / "34.jpg")
    reference.load()
    photos = {}
    for n in TRUTH:
        with Image.open(path / "test" / f"{n}.jpg") as img:
            photos[n] = img.convert("RGB")
    return reference, photos


def moved(photo: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, np.ndarray]:
    """The photo turned up to ±20° about its centre, scaled 0.9-1.1 and shifted ±60 px, on a canvas of the same
    size (the edges repeat, as cv2 does); returns it with the 2x3 matrix old px -> new px."""
    angle, scale = rng.uniform(-20, 20), rng.uniform(0.9, 1.1)
    shift = rng.uniform(-60, 60, 2)
    m = cv2.getRotationMatrix2D((photo.width / 2, photo.height / 2), angle, scale)
    m[:, 2] += shift
    out = cv2.warpAffine(np.asarray(photo), m, photo.size, borderMode=cv2.BORDER_REPLICATE)
    return Image.fromarray(out), m


def errors(result: align.Alignment, truth: np.ndarray) -> np.ndarray:
    m = np.array(result.matrix).reshape(2, 3)
    placed = np.array(REFERENCE_CENTRES, float) @ m[:, :2].T + m[:, 2]
    return np.linalg.norm(placed - truth, axis=1)


def report(title: str, results: dict[int, tuple[align.Alignment, np.ndarray]]) -> float:
    """Print the figures; return per-position accuracy (a refused photo: all its positions wrong)."""
    refused = {n: a.reason_key for n, (a, _) in results.items() if not a.ok}
    errs = np.concatenate([e for a, e in results.values() if a.ok]) if len(refused) < len(results) else np.zeros(0)
    right = sum(int(np.sum(e <= HIT_PX)) for a, e in results.values() if a.ok)
    total = 4 * len(results)
    print(f"\n{title}: aligned {len(results) - len(refused)}/{len(results)} photos; refused {refused or 'none'}")
    if len(errs):
        print(
            f"  centre error px: median {np.median(errs):.1f}, p95 {np.percentile(errs, 95):.1f}, "
            f"max {errs.max():.1f}; positions within {HIT_PX:.0f} px: {right}/{total} = {right / total:.3f}"
        )
    worst = sorted(((float(e.max()), n) for n, (a, e) in results.items() if a.ok), reverse=True)[:3]
    print("  worst photos (max error px):", ", ".join(f"{n}: {e:.1f}" for e, n in worst))
    return right / total


def test_test_photos_as_they_are(blocks):
    reference, photos = blocks
    results = {}
    for n, photo in photos.items():
        result = align.align(reference, photo, BOXES)
        results[n] = (result, errors(result, np.array(TRUTH[n], float)))
    assert report("screw-blocks test photos as they are", results) >= 0.99


def test_moved_test_photos(blocks):
    reference, photos = blocks
    rng = np.random.default_rng(16)
    results = {}
    for n, photo in photos.items():
        photo2, m = moved(photo, rng)
        truth = np.array(TRUTH[n], float) @ m[:, :2].T + m[:, 2]
        result = align.align(reference, photo2, BOXES)
        results[n] = (result, errors(result, truth))
        if result.ok:  # a recovered motion that is right maps the station's boxes near the moved fixed boxes too
            assert math.isfinite(result.score)
    assert report("screw-blocks test photos moved (±20°, ±60 px, 0.9-1.1)", results) >= 0.97
