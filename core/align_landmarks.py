"""Landmarks for alignment: where a design's bolts, sockets and holes are in an image, and the similarity that
brings one image's landmarks onto another's (core.align uses it; no texture is compared, only structure).

A landmark is a peak of edge energy pooled over a bolt's size: bolts, sockets and holes are compact knots of
strong edges, whatever the unit's surface, paint or light; wood grain, scratches and shading are weaker or spread
out. Each reference box's peak is that position's anchor. A fit is a similarity sending two anchors onto two
photo landmarks (every pair, within the allowed motion: RANSAC without the randomness), scored by how many
anchors then land on a landmark and how close, and refined by least squares on those.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from core.errors import ValidationError

MAX_ROTATION_DEG = 35.0  # ±20° asked, on top of how the units sit (the screw blocks vary by 15°)
SCALE_RANGE = (0.8, 1.25)  # ±10 % asked, with slack
AMBIGUITY = 0.85  # a different fit scoring at least this share of the best one is a rival
ENERGY_FLOOR = 2.0  # median pooled Sobel magnitude (grey levels) below which a photo counts as flat
REFINED = 8  # leading hypotheses (distinct pairings) refined before the best is chosen
AGREEMENT_MARGIN = 0.04  # structure correlation a tie-break must win by (measured: 0.05-0.14 with a valve)


@dataclass(frozen=True)
class Frame:
    """One image at working resolution: its pooled edge energy, the factor from full px, and its peaks."""

    energy: np.ndarray
    factor: float
    peaks: np.ndarray  # (K, 3): x, y, strength in working px, strongest first


def similarity(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares similarity src -> dst (Umeyama without reflection, optionally weighted), as a 2x3 matrix."""
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    s, d = src - mu_s, dst - mu_d
    zs, zd = s[:, 0] + 1j * s[:, 1], d[:, 0] + 1j * d[:, 1]
    var = float(w @ (np.abs(zs) ** 2))
    if var <= 1e-12:
        raise ValidationError("the points coincide; pick points apart", key="inspect.align.error_points_coincide")
    z = complex(np.sum(w * zd * np.conj(zs))) / var
    a, b = z.real, z.imag
    tx = mu_d[0] - (a * mu_s[0] - b * mu_s[1])
    ty = mu_d[1] - (b * mu_s[0] + a * mu_s[1])
    return np.array([[a, -b, tx], [b, a, ty]])


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def working_grey(image: Image.Image, factor: float) -> np.ndarray:
    """Grey at working size (the light's level and the camera's gain cancel out in _energy)."""
    grey = image.convert("L")
    size = (max(8, round(image.width * factor)), max(8, round(image.height * factor)))
    if factor < 0.5:  # an integer reduction first: a 2448x2048 photo shrinks in a few ms
        grey = grey.reduce(int(1 / factor / 1.5) or 1)
    if grey.size != size:
        grey = grey.resize(size, Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.float32)


def _energy(gray: np.ndarray, sigma: float) -> np.ndarray:
    """Edge energy pooled over an object's size, in units of the image's median: bolts, sockets and holes are
    compact knots of strong edges; wood grain, scratches and shading are weaker or spread out."""
    smooth = cv2.GaussianBlur(gray, (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
    pooled = cv2.GaussianBlur(cv2.magnitude(gx, gy), (0, 0), sigma)
    # a flat photo has no edges: the floor keeps its sensor noise from passing for structure
    return pooled / max(float(np.median(pooled[::2, ::2])), ENERGY_FLOOR)


def _peaks(energy: np.ndarray, sigma: float, limit: int) -> np.ndarray:
    """The strongest local maxima, at least ~3 sigma apart, with sub-pixel centres: (x, y, strength)."""
    k = 2 * math.ceil(1.5 * sigma) + 1
    local = cv2.dilate(energy, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    peak = (energy >= local) & (energy > 1.0)
    # a peak on the border is the blur's mirror image of something cut by the frame, not a centre
    peak[[0, -1], :] = False
    peak[:, [0, -1]] = False
    ys, xs = np.nonzero(peak)
    order = np.argsort(-energy[ys, xs])[:limit]
    ys, xs = ys[order], xs[order]
    return np.array([(*_subpixel(energy, x, y), energy[y, x]) for x, y in zip(xs, ys, strict=True)]).reshape(-1, 3)


def _subpixel(energy: np.ndarray, x: int, y: int) -> tuple[float, float]:
    """A parabola through the peak and its neighbours, per axis."""
    h, w = energy.shape
    out = []
    for pos, size, before, after in (
        (x, w, lambda: energy[y, x - 1], lambda: energy[y, x + 1]),
        (y, h, lambda: energy[y - 1, x], lambda: energy[y + 1, x]),
    ):
        if 0 < pos < size - 1:
            a, b, c = float(before()), float(energy[y, x]), float(after())
            denom = a - 2 * b + c
            out.append(pos + (0.5 * (a - c) / denom if abs(denom) > 1e-9 else 0.0))
        else:
            out.append(float(pos))
    return out[0], out[1]


def frame_of(gray: np.ndarray, factor: float, sigma: float, limit: int) -> Frame:
    energy = _energy(gray, sigma)
    return Frame(energy, factor, _peaks(energy, sigma, limit))


def feature_sigma(gray: np.ndarray, boxes: np.ndarray, sigma: float) -> float:
    """The pooling size that makes each bolt one peak at its centre: ~0.8 of the features' radius, measured in
    the reference as the spread of strong edges around each box's peak (a hole in a loose box is small, a
    bolt head in a tight box nearly fills it); between side/10 and side/3."""
    first = frame_of(gray, 1.0, sigma, 1)
    anchors, _ = anchors_of(first, boxes)
    smooth = cv2.GaussianBlur(gray, (0, 0), 1.0)
    grad = cv2.magnitude(cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1))
    floor = 2 * float(np.median(grad))
    spreads = []
    for (ax, ay), (x0, y0, x1, y1) in zip(anchors, np.round(boxes).astype(int), strict=True):
        x0, y0 = max(0, x0), max(0, y0)
        patch = grad[y0:y1, x0:x1]
        weight = np.clip(patch - floor, 0, None) ** 2
        if patch.size == 0 or weight.sum() <= 0:
            continue
        yy, xx = np.mgrid[y0 : y0 + patch.shape[0], x0 : x0 + patch.shape[1]]
        spreads.append(math.sqrt(float(np.sum(weight * ((xx - ax) ** 2 + (yy - ay) ** 2)) / weight.sum())))
    radius = float(np.median(spreads)) if spreads else 0.0
    return min(max(0.8 * radius, sigma), 10 / 3 * sigma)


def anchors_of(found: Frame, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each position's anchor: the pooled-energy peak inside its box; and its strength."""
    anchors, strengths = [], []
    h, w = found.energy.shape
    for x0, y0, x1, y1 in np.round(boxes * found.factor).astype(int):
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, max(x1, x0 + 1)), min(h, max(y1, y0 + 1))
        patch = found.energy[y0:y1, x0:x1]
        if patch.size == 0:
            anchors.append(((x0 + x1) / 2, (y0 + y1) / 2))
            strengths.append(0.0)
            continue
        py, px = np.unravel_index(int(np.argmax(patch)), patch.shape)
        anchors.append(_subpixel(found.energy, x0 + int(px), y0 + int(py)))
        strengths.append(float(patch[py, px]))
    return np.array(anchors, dtype=float), np.array(strengths)


def hypotheses(anchors: np.ndarray, cands: np.ndarray, scale0: float) -> np.ndarray:
    """Similarities (as complex z, t) sending an anchor pair onto a candidate pair within the allowed motion."""
    za = anchors[:, 0] + 1j * anchors[:, 1]
    zc = cands[:, 0] + 1j * cands[:, 1]
    n = len(za)
    pairs = sorted(((abs(za[j] - za[i]), i, j) for i in range(n) for j in range(i + 1, n)), reverse=True)[:24]
    a_idx, b_idx = np.nonzero(~np.eye(len(zc), dtype=bool))
    out = []
    for _, i, j in pairs:
        z = (zc[b_idx] - zc[a_idx]) / (za[j] - za[i])
        scale = np.abs(z) / scale0
        good = (scale >= SCALE_RANGE[0]) & (scale <= SCALE_RANGE[1])
        good &= np.abs(np.degrees(np.angle(z))) <= MAX_ROTATION_DEG
        z = z[good]
        out.append(np.stack([z, zc[a_idx[good]] - z * za[i]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=complex)


def _to_matrix(z: complex, t: complex) -> np.ndarray:
    return np.array([[z.real, -z.imag, t.real], [z.imag, z.real, t.imag]])


def _refine(m: np.ndarray, anchors: np.ndarray, cands: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Least squares on the anchors that found a landmark, robust (Cauchy weights at the tolerance): one landmark
    pulled off its bolt (cut by the photo's edge, a glare) does not drag the others; returns the matrix and
    per-anchor distances."""
    for _ in range(6):
        predicted = apply(m, anchors)
        gaps = np.linalg.norm(predicted[:, None, :] - cands[None, :, :2], axis=2)
        nearest = gaps.argmin(axis=1)
        dist = gaps[np.arange(len(anchors)), nearest]
        inliers = dist < 3 * tol
        if inliers.sum() < 2:
            return m, dist
        weights = 1 / (1 + (dist[inliers] / tol) ** 2)
        m = similarity(anchors[inliers], cands[nearest[inliers], :2], weights)
    predicted = apply(m, anchors)
    dist = np.linalg.norm(predicted[:, None, :] - cands[None, :, :2], axis=2).min(axis=1)
    return m, dist


def fit_score(dist: np.ndarray, tol: float) -> float:
    return float(np.mean(np.exp(-0.5 * (dist / tol) ** 2)))


@dataclass(frozen=True)
class Fit:
    matrix: np.ndarray  # 2x3, working px
    dist: np.ndarray  # per anchor: distance to the nearest candidate
    pairing: np.ndarray  # per anchor: that candidate's index, -1 when farther than 3 tol


def _fit(m: np.ndarray, anchors: np.ndarray, cands: np.ndarray, tol: float) -> Fit:
    m, dist = _refine(m, anchors, cands, tol)
    nearest = np.linalg.norm(apply(m, anchors)[:, None, :] - cands[None, :, :2], axis=2).argmin(axis=1)
    return Fit(m, dist, np.where(dist < 3 * tol, nearest, -1))


def candidate_fits(zt: np.ndarray, anchors: np.ndarray, cands: np.ndarray, tol: float) -> list[Fit]:
    """The fit that explains most anchors (the best of the leading hypotheses once refined: refining can trade
    one pairing for another); then up to two rivals that pair the anchors with other candidates (at most one pair
    in common with any fit before), e.g. a symmetric layout turned by a step."""
    za = anchors[:, 0] + 1j * anchors[:, 1]
    zc = cands[:, 0] + 1j * cands[:, 1]
    gaps = np.abs((zt[:, :1] * za[None, :] + zt[:, 1:2])[:, :, None] - zc[None, None, :])
    nearest = gaps.argmin(axis=2)
    dist = np.take_along_axis(gaps, nearest[:, :, None], axis=2)[:, :, 0]
    nearest = np.where(dist < 3 * tol, nearest, -2)
    scores = np.exp(-0.5 * (dist / tol) ** 2).mean(axis=1)
    order = np.argsort(-scores)
    leading: dict[bytes, Fit] = {}
    for h in order[:200]:
        if len(leading) == REFINED:
            break
        key = nearest[h].tobytes()
        if key not in leading:
            leading[key] = _fit(_to_matrix(*zt[h]), anchors, cands, tol)
    fits = [max(leading.values(), key=lambda f: fit_score(f.dist, tol))]
    for h in order[:2000]:
        if len(fits) == 3:
            break
        # any pair fits its own two points: a rival must explain a third
        if np.sum(nearest[h] >= 0) >= 3 and all(np.sum(nearest[h] == f.pairing) <= 1 for f in fits):
            fits.append(_fit(_to_matrix(*zt[h]), anchors, cands, tol))
    return fits


def _agreement(ref: Frame, pic: Frame, m: np.ndarray, away: np.ndarray) -> float:
    """How well the photo's edge structure, brought into the reference frame by m, matches the reference's away
    from the positions (`away`: a mask of the reference frame): the correlation of log edge energy. It breaks
    ties between fits that the positions alone cannot tell apart (a valve, a hub mark, the rim's cut-outs);
    the positions themselves are left out, as every rival matches them and their wear only adds noise."""
    h, w = ref.energy.shape
    back = cv2.warpAffine(np.log1p(pic.energy), m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    seen = cv2.warpAffine(np.ones_like(pic.energy), m, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP) > 0
    seen &= away
    a, b = np.log1p(ref.energy)[seen], back[seen]
    if a.size < 16:
        return 0.0
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


def away_from(shape: tuple[int, ...], anchors: np.ndarray, radius: float) -> np.ndarray:
    mask = np.full(shape[:2], 255, np.uint8)
    for x, y in anchors:
        cv2.circle(mask, (round(x), round(y)), max(1, round(radius)), 0, -1)
    return mask > 0


def choose(options: list[Fit], ref: Frame, pic: Frame, tol: float, away: np.ndarray) -> tuple[Fit, bool]:
    """The best fit, and whether it is clearly better than any rival (by positions, else by structure)."""
    best = options[0]
    close = [f for f in options[1:] if fit_score(f.dist, tol) >= AMBIGUITY * fit_score(best.dist, tol)]
    if not close:
        return best, True
    ranked = sorted(((_agreement(ref, pic, f.matrix, away), i) for i, f in enumerate([best, *close])), reverse=True)
    chosen = ([best, *close])[ranked[0][1]]
    return chosen, ranked[0][0] - ranked[1][0] >= AGREEMENT_MARGIN
