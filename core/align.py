"""Align a hand-held whole photo to a station's reference, so each bolt position is found by structure.

Why structure and not texture: the photo shows another unit of the same design (other wood or paint, other
scratches, other wear, another light), so no pixel pattern of the reference unit can be trusted. What stays the
same is where the bolts and holes are. Both images are searched for landmarks (core.align_landmarks: knots of
edge energy at the bolts' size, found from the boxes); a similarity (rotation, scale, shift) is fitted from the
reference's anchors to the photo's landmarks. It is accepted only when enough positions land on a landmark,
close, and no other fit explains them about as well; a symmetric layout is told apart by the structure away
from the positions (a valve, a mark), or refused. Refused (ok=False) means: say so, let the user click.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from core import align_landmarks as marks
from core.errors import ValidationError

Box = tuple[int, int, int, int]
Point = tuple[float, float]
Matrix = tuple[float, float, float, float, float, float]

MIN_SCORE = 0.5  # mean closeness of the positions to their landmarks (1 = all exactly on one)
MIN_FOUND = 0.6  # share of the positions that must land on a landmark (and at least 3)
CANDIDATES_PER_POSITION = 3
CANDIDATES_MIN = 12
MIN_SALIENCE = 0.3  # a landmark's strength (image-relative) at least this share of the anchors' median
WORK_SIDE = 100.0  # a box's side at working resolution, at most
MAX_SIDE = 1024  # the reference's longest side at working resolution, at most
MAX_SIGMA = 10.0  # working px: larger pooling runs at a lower resolution instead (same peaks, less work)
TOLERANCE = 0.05  # of the distance between neighbouring positions: units of one design differ a little
# a position is cropped while this share of its own box (without the margin) lies in the photo; the rest, and a
# margin past the edge, repeat the edge pixels. Less inside: the position is unfit ("outside"), never guessed.
MIN_INSIDE = 0.6


@dataclass(frozen=True)
class Alignment:
    """Where the reference frame lies in one photo; `ok=False` means nothing may be cropped from it."""

    ok: bool
    score: float
    matrix: Matrix
    method: str
    reason: str | None = None
    reason_key: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "score": round(self.score, 4),
            "method": self.method,
            "matrix": [round(v, 6) for v in self.matrix],
            "reason": self.reason,
        }


IDENTITY: Matrix = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def identity() -> Alignment:
    """The photo is the reference frame (a fixed camera): positions are cropped where they were drawn."""
    return Alignment(True, 1.0, IDENTITY, "identity")


def from_json(data: dict[str, object]) -> Alignment:
    """Back from to_json (stored records); a `reason_key` stored beside them is kept."""
    try:
        matrix = tuple(float(v) for v in data["matrix"])  # type: ignore[union-attr]
        ok, score, method = bool(data["ok"]), float(data["score"]), str(data["method"])  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(f"not a stored alignment: {exc}", key="inspect.align.error_matrix") from exc
    if len(matrix) != 6 or not all(math.isfinite(v) for v in matrix):
        raise ValidationError("an alignment matrix has six numbers", key="inspect.align.error_matrix")
    reason, key = data.get("reason"), data.get("reason_key")
    return Alignment(ok, score, matrix, method, reason, key)  # type: ignore[arg-type]


def _refused(key: str, reason: str, score: float = 0.0, matrix: Matrix = IDENTITY) -> Alignment:
    return Alignment(False, score, matrix, "auto", reason, key)


def _check_boxes(boxes: Sequence[Box]) -> np.ndarray:
    arr = np.array(boxes, dtype=float).reshape(-1, 4)
    if len(arr) == 0 or not np.isfinite(arr).all() or np.any(arr[:, 2] <= arr[:, 0]) or np.any(arr[:, 3] <= arr[:, 1]):
        raise ValidationError("each box needs x1 > x0 and y1 > y0", key="inspect.align.error_boxes")
    return arr


def align(reference: Image.Image, photo: Image.Image, boxes: Sequence[Box]) -> Alignment:
    """Find the positions of `reference` (drawn as `boxes`) in `photo`; refused (ok=False) when not sure.

    The photo's scale is searched around each prior in `_scale_priors` (the same framing; the same camera at the
    same distance, on a larger or smaller canvas): the first accepted fit wins; an ambiguous one is refused at
    once; else the best refusal is told."""
    arr = _check_boxes(boxes)
    if len(arr) < 3:
        return _refused(
            "inspect.align.too_few_positions",
            "a station needs at least 3 positions to be aligned automatically; click two positions instead",
        )
    ref, sigma = _prepared(reference, arr)
    refusals = []
    for factor in _scale_priors(ref.factor, reference, photo):
        found = _align_at(ref, sigma, photo, factor, arr)
        if found.ok or found.reason_key == "inspect.align.ambiguous":  # never trade an ambiguity for another scale
            return found
        refusals.append(found)
    return max(refusals, key=lambda a: (a.reason_key != "inspect.align.no_structure", a.score))


def _scale_priors(ref_factor: float, reference: Image.Image, photo: Image.Image) -> list[float]:
    """Working factors for the photo: the same framing (equal areas) first, then the same pixel scale (a photo
    on a larger canvas, a crop of a bigger one), then equal width or height; each allows SCALE_RANGE around it,
    so priors within 10 % of one already tried are left out."""
    ratios = (
        math.sqrt(photo.width * photo.height / (reference.width * reference.height)),
        1.0,
        photo.width / reference.width,
        photo.height / reference.height,
    )
    priors: list[float] = []
    for ratio in ratios:
        factor = ref_factor / ratio
        if all(abs(math.log(factor / f)) > math.log(1.1) for f in priors):
            priors.append(factor)
    return priors


def _align_at(ref: marks.Frame, sigma: float, photo: Image.Image, factor: float, arr: np.ndarray) -> Alignment:
    """One search with the photo at working `factor`."""
    limit = max(CANDIDATES_MIN, CANDIDATES_PER_POSITION * len(arr))
    pic = marks.frame_of(marks.working_grey(photo, factor), factor, sigma, limit)
    anchors, strengths = marks.anchors_of(ref, arr)
    cands = pic.peaks[pic.peaks[:, 2] >= MIN_SALIENCE * float(np.median(strengths))]
    zt = marks.hypotheses(anchors, cands, 1.0) if len(cands) >= 3 else np.zeros((0, 2), complex)
    if len(zt) == 0:
        return _refused("inspect.align.no_structure", "no bolts or holes were found in the photo")
    gaps = np.linalg.norm(anchors[:, None] - anchors[None], axis=2) + np.eye(len(anchors)) * 1e9
    tol = max(1.5, TOLERANCE * float(np.median(gaps.min(axis=1))))
    away = marks.away_from(ref.energy.shape, anchors, 3 * sigma)
    fit, clear = marks.choose(marks.candidate_fits(zt, anchors, cands, tol), ref, pic, tol, away)
    score = marks.fit_score(fit.dist, tol)
    full = _to_full(fit.matrix, ref.factor, pic.factor)
    found = int(np.sum(fit.pairing >= 0))
    if found < max(3, math.ceil(MIN_FOUND * len(arr))) or score < MIN_SCORE:
        return _refused(
            "inspect.align.weak_match",
            f"only {found} of {len(arr)} positions were found in the photo; check it or click two positions",
            score,
            full,
        )
    if not clear:
        return _refused(
            "inspect.align.ambiguous",
            "the positions fit the photo in more than one way; click two positions to say which",
            score,
            full,
        )
    return Alignment(True, score, full, "auto")


_PREPARED: OrderedDict[tuple[int, bytes], tuple[Image.Image, marks.Frame, float]] = OrderedDict()
_PREPARED_LOCK = threading.Lock()
PREPARED_KEPT = 2  # references kept prepared: a batch of photos against one station pays for it once


def _prepared(reference: Image.Image, boxes: np.ndarray) -> tuple[marks.Frame, float]:
    """The reference at working resolution, its landmarks and the pooling sigma; kept for the same image object
    (held here, so its id cannot be reused while kept) and boxes."""
    key = (id(reference), boxes.tobytes())
    with _PREPARED_LOCK:
        if key in _PREPARED and _PREPARED[key][0] is reference:
            _PREPARED.move_to_end(key)
            return _PREPARED[key][1:]
    side = float(np.median(np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))
    factor = min(1.0, WORK_SIDE / side, MAX_SIDE / max(reference.size))
    ref_grey = marks.working_grey(reference, factor)
    sigma = marks.feature_sigma(ref_grey, boxes * factor, side * factor / 10)
    if sigma > MAX_SIGMA:
        factor *= MAX_SIGMA / sigma
        sigma = MAX_SIGMA
        ref_grey = marks.working_grey(reference, factor)
    ref = marks.frame_of(ref_grey, factor, sigma, max(CANDIDATES_MIN, CANDIDATES_PER_POSITION * len(boxes)))
    with _PREPARED_LOCK:
        _PREPARED[key] = (reference, ref, sigma)
        while len(_PREPARED) > PREPARED_KEPT:
            _PREPARED.popitem(last=False)
    return ref, sigma


def _to_full(m: np.ndarray, ref_factor: float, photo_factor: float) -> Matrix:
    """A working-px matrix as reference px -> photo px."""
    scale_in = np.diag([ref_factor, ref_factor, 1.0])
    scale_out = np.diag([1 / photo_factor, 1 / photo_factor, 1.0])
    full = scale_out @ np.vstack([m, [0, 0, 1]]) @ scale_in
    return tuple(float(v) for v in full[:2].ravel())  # type: ignore[return-value]


def from_points(reference_points: Sequence[Point], photo_points: Sequence[Point]) -> Alignment:
    """The manual fix: the similarity that best sends the clicked reference points onto the photo points."""
    ref = np.array(reference_points, dtype=float).reshape(-1, 2)
    pic = np.array(photo_points, dtype=float).reshape(-1, 2)
    if len(ref) != len(pic) or len(ref) < 2:
        raise ValidationError(
            f"give at least 2 pairs of points, as many in the reference as in the photo ({len(ref)}, {len(pic)})",
            key="inspect.align.error_points",
            reference=len(ref),
            photo=len(pic),
        )
    if not (np.isfinite(ref).all() and np.isfinite(pic).all()):
        raise ValidationError("the points must be finite numbers", key="inspect.align.error_points_finite")
    m = marks.similarity(ref, pic)
    if abs(m[0, 0] + 1j * m[1, 0]) <= 1e-6:
        raise ValidationError("the points coincide; pick points apart", key="inspect.align.error_points_coincide")
    return Alignment(True, 1.0, tuple(float(v) for v in m.ravel()), "manual")  # type: ignore[arg-type]


def _matrix(alignment: Alignment) -> np.ndarray:
    return np.array(alignment.matrix, dtype=float).reshape(2, 3)


def corners(alignment: Alignment, box: Box) -> tuple[Point, Point, Point, Point]:
    """The box's corners in photo px: top-left, top-right, bottom-right, bottom-left of the reference box."""
    x0, y0, x1, y1 = box
    pts = marks.apply(_matrix(alignment), np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], dtype=float))
    return tuple((float(x), float(y)) for x, y in pts)  # type: ignore[return-value]


def bounding_box(alignment: Alignment, box: Box) -> Box:
    """The upright box around the mapped corners, in whole photo px."""
    pts = np.array(corners(alignment, box))
    x0, y0 = np.floor(pts.min(axis=0) + 1e-6).astype(int)  # 60.000000001 from a turn is 60
    x1, y1 = np.ceil(pts.max(axis=0) - 1e-6).astype(int)
    return int(x0), int(y0), max(int(x1), int(x0) + 1), max(int(y1), int(y0) + 1)


def grown(box: Box, margin: float) -> tuple[float, float, float, float]:
    """The box grown by `margin` of its width and height on each side (reference px)."""
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
    return x0 - dx, y0 - dy, x1 + dx, y1 + dy


def crop(photo: Image.Image, alignment: Alignment, box: Box, margin: float = 0.0) -> Image.Image | None:
    """The position upright as in the reference frame, grown by `margin`; None when it lies outside the photo.

    Refuses (ValidationError) an alignment that is not ok: nothing is cropped from a guess."""
    if not alignment.ok:
        raise ValidationError(
            "the photo is not aligned; nothing can be cropped from it", key="inspect.align.error_not_aligned"
        )
    if margin < 0 or not math.isfinite(margin):
        raise ValidationError(f"a margin must be 0 or more, not {margin}", key="inspect.align.error_margin")
    gx0, gy0, gx1, gy1 = grown(_check_box(box), margin)
    size = (max(1, round(gx1 - gx0)), max(1, round(gy1 - gy0)))
    m = _matrix(alignment)
    pts = marks.apply(m, np.array([(gx0, gy0), (gx1, gy0), (gx1, gy1), (gx0, gy1)], dtype=float))
    if _inside_share(m, box, photo.size) < MIN_INSIDE:
        return None
    # only the region under the box is converted and warped: 12 crops of a 5-megapixel photo stay cheap
    x0, y0 = (max(0, int(v) - 2) for v in np.floor(pts.min(axis=0)))
    x1, y1 = min(photo.width, int(np.ceil(pts[:, 0].max())) + 2), min(photo.height, int(np.ceil(pts[:, 1].max())) + 2)
    region = np.asarray(photo.crop((x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))).convert("RGB"))
    # output px (u, v) is reference px (gx0 + u, gy0 + v), then photo px minus the region's corner
    inverse_map = m @ np.array([[1, 0, gx0], [0, 1, gy0], [0, 0, 1]], dtype=float) - [[0, 0, x0], [0, 0, y0]]
    out = cv2.warpAffine(
        region, inverse_map, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    return Image.fromarray(out)


def _inside_share(m: np.ndarray, box: Box, size: tuple[int, int]) -> float:
    """The share of the position's box, mapped into the photo, that lies inside the photo."""
    x0, y0, x1, y1 = box
    quad = marks.apply(m, np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], dtype=float)).astype(np.float32)
    frame = np.array([(0, 0), (size[0], 0), (size[0], size[1]), (0, size[1])], dtype=np.float32)
    whole = abs(cv2.contourArea(quad))
    inside, _ = cv2.intersectConvexConvex(quad, frame)
    return float(inside) / whole if whole > 0 else 0.0


def _check_box(box: Box) -> Box:
    _check_boxes([box])
    return box
