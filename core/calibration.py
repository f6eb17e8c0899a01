"""Temperature scaling (Guo et al., 2017): one number T that divides a model's logits so its probabilities say how
often it is right. It is fitted on the validation split when a run finishes, before any operating point is chosen
on that split; every stored probability, the served model and its exports use the same T.

Light tier: the fit works on probabilities, since softmax(log p / T) = softmax(z / T) for any logits z whose
softmax is p (the log-sum-exp shift cancels). T > 1 softens an over-confident model, T < 1 sharpens a timid one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LOWEST, HIGHEST = 0.1, 10.0  # the search range of T
MIN_PHOTOS = 10  # fewer validation photos than this leave T at 1: a fit on a handful would be noise
# A prior on log T, normal around 0 with this spread: when every validation photo is right (the screws crops),
# the plain likelihood keeps rising as T falls to 0 and would make every probability 0 or 1 (measured: T at the
# search bound 0.05 for the quick and a fine-tuned model), so ties would replace the ranking the operating point
# needs. With the prior T moves as far as the validation photos give evidence for, and no further.
PRIOR_SPREAD = 0.5
FLOOR = 1e-12  # no probability is exactly 0 in a softmax; stored ones are rounded to 6 digits


def rescale(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities of the same logits divided by `temperature` (rows of a softmax in, rows out)."""
    logits = np.log(np.maximum(np.asarray(probs, dtype=np.float64), FLOOR)) / float(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def nll(probs: np.ndarray, truth: Sequence[int], temperature: float) -> float:
    """Mean negative log-likelihood of the true classes at `temperature`."""
    scaled = rescale(probs, temperature)
    rows = np.arange(len(scaled))
    return float(-np.mean(np.log(np.maximum(scaled[rows, np.asarray(truth, dtype=int)], FLOOR))))


def _objective(probs: np.ndarray, truth: Sequence[int], log_t: float) -> float:
    """The validation NLL summed over the photos, plus the prior's penalty on log T (a MAP estimate)."""
    return len(probs) * nll(probs, truth, math.exp(log_t)) + 0.5 * (log_t / PRIOR_SPREAD) ** 2


def fit_temperature(probs: np.ndarray, truth: Sequence[int]) -> float:
    """The T that minimises the validation NLL with the prior on log T (golden-section search on log T; the
    objective is unimodal in it); 1.0 when there are too few photos or a single class, where a fit says nothing."""
    probs = np.asarray(probs, dtype=np.float64)
    if len(probs) < MIN_PHOTOS or len(set(int(t) for t in truth)) < 2:
        return 1.0
    lo, hi = math.log(LOWEST), math.log(HIGHEST)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = _objective(probs, truth, a), _objective(probs, truth, b)
    for _ in range(60):  # the bracket shrinks to 1e-12 of its width
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = _objective(probs, truth, a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = _objective(probs, truth, b)
    best = (lo + hi) / 2
    return math.exp(best) if _objective(probs, truth, best) <= _objective(probs, truth, 0.0) else 1.0
