"""Do a run's heatmaps point at the bolt? The share of Grad-CAM mass in the central box of its validation and
test crops (crops are cut around their bolt, so the bolt sits there), with the ROAD faithfulness beside it.

A uniform map puts CENTRE_AREA (0.36) of its mass in the box; a map that points at the bolt puts far more.
The figure is computed once per run, on at most MAX_PHOTOS photos, and kept in the run's folder as JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from core import runs
from core.files import write_atomic
from core.ml import explain, predict
from core.workspace import Workspace

log = logging.getLogger(__name__)

CENTRE = 0.6  # the central box's side, as a share of each side
CENTRE_AREA = CENTRE * CENTRE  # what a uniform map puts in the box
# At or below CENTRE_AREA + UNIFORM_MARGIN a model's heatmaps are no better than uniform. Measured on the screws
# crops: single maps scatter with a standard deviation near 0.19, so a mean over 64 photos has a standard error
# near 0.024 and a model at chance reads up to about 0.36 + 3 × 0.024 ≈ 0.43. The quick model reads 0.34 (46 test
# crops) to 0.40 (64 validation and test crops), a fine-tuned Lite0 0.66 to 0.70. 0.45 flags the first and
# stays 0.15 (six standard errors) below the 0.6 that useful heatmaps reach.
UNIFORM_MARGIN = 0.09
WARN_BELOW = round(CENTRE_AREA + UNIFORM_MARGIN, 6)  # 0.45, without a float tail
MAX_PHOTOS = 64  # Grad-CAM: one forward and one backward each
ROAD_PHOTOS = 4  # ROAD costs about twenty heatmaps per photo (removals and an inpainting): 8 took 3 min on 2 cores
FILE = "heatmap_check.json"
SPLITS = ("val", "test")


@dataclass(frozen=True)
class HeatmapCheck:
    """The run's heatmap figures: mean centre share, mean ROAD score, and how many photos the share covers."""

    centre_share: float
    road: float
    photos: int

    def to_json(self) -> dict[str, float | int]:
        return asdict(self)

    @property
    def uniform(self) -> bool:
        """No better than a uniform map (the pages warn)."""
        return self.centre_share <= WARN_BELOW


def centre_share(mask: np.ndarray, side: float = CENTRE) -> float:
    """The share of the mask's mass inside the central side×side box (an empty mask counts as uniform)."""
    mask = np.clip(np.asarray(mask, dtype=np.float64), 0.0, None)
    h, w = mask.shape
    margin_y, margin_x = round(h * (1 - side) / 2), round(w * (1 - side) / 2)
    total = float(mask.sum())
    if total <= 0:
        return side * side
    return float(mask[margin_y : h - margin_y, margin_x : w - margin_x].sum() / total)


def spread(items: Sequence[runs.SnapshotItem], limit: int) -> list[runs.SnapshotItem]:
    """At most `limit` items, evenly spaced over the list (every class and position, not the first few)."""
    if len(items) <= limit:
        return list(items)
    picks = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in picks]


def measure_photos(
    predictor: predict.Predictor, paths: Sequence[predict.PhotoInput], road_photos: int = ROAD_PHOTOS
) -> HeatmapCheck:
    """Grad-CAM of the likeliest class on each photo: mean centre share; ROAD on road_photos of them, spread."""
    shares, roads = [], []
    road_at = {int(i) for i in np.linspace(0, len(paths) - 1, min(road_photos, len(paths))).round()}
    for index, path in enumerate(paths):
        mask, target = explain.cam_mask(predictor, path)
        shares.append(centre_share(mask))
        if index in road_at:
            roads.append(explain.faithfulness(predictor, path, mask, target))
    return HeatmapCheck(
        float(np.mean(shares)) if shares else CENTRE_AREA, float(np.mean(roads)) if roads else 0.0, len(shares)
    )


def measure_run(ws: Workspace, run_id: int, limit: int = MAX_PHOTOS) -> HeatmapCheck:
    """Measure the run on its validation and test photos (its frozen snapshot), at most `limit` of them."""
    items = [it for it in runs.snapshot(ws.conn, run_id) if it.split in SPLITS]
    chosen = spread(items, limit)
    predictor = predict.load_predictor(ws, run_id)
    return measure_photos(predictor, [ws.layout.cached(it.sha256) for it in chosen])


def stored(ws: Workspace, run_id: int) -> HeatmapCheck | None:
    """The run's kept figures, or None when they have not been computed (or the file is not ours)."""
    path = ws.layout.run_dir(run_id) / FILE
    try:
        values = json.loads(path.read_text())
        return HeatmapCheck(float(values["centre_share"]), float(values["road"]), int(values["photos"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        log.warning("run %s: %s is unreadable; measuring again", run_id, path)
        return None


def ensure(ws: Workspace, run_id: int) -> HeatmapCheck:
    """The run's heatmap check: kept figures when there are, else measured now and kept (atomically)."""
    found = stored(ws, run_id)
    if found is not None:
        return found
    check = measure_run(ws, run_id)
    write_atomic(ws.layout.run_dir(run_id) / FILE, json.dumps(check.to_json()).encode())
    log.info("run %s heatmap check: %s", run_id, check)
    return check
