"""How familiar a photo is to the model that judges it, so a photo unlike anything it was trained on is held back
("check the photo"), never passed.

The measure is deep nearest neighbours (Sun et al., 2022): the features the model's head reads (their spatial
average: with average-and-maximum pooling the maximum half is left out, it let textures pass), L2-normalised, and
the distance to the K-th nearest training photo. It is told as a percentile of the validation photos' own
distances (photos the model never trained on, from the same plant): 50 is a typical photo, 100 is farther than
every validation photo. Past the workspace's cut (default the 99th percentile) a photo is unfamiliar.

The index (training features and sorted validation distances) is built once per run from its frozen snapshot and
kept in the run's folder; search is exact, one matrix product: a plant's dataset is thousands of photos, where an
approximate index would only add a dependency and an error.
"""

from __future__ import annotations

import io
import logging
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core import familiarity_cut, runs
from core.errors import CoreError, ValidationError
from core.files import write_atomic
from core.ml import data, transforms
from core.workspace import Workspace

log = logging.getLogger(__name__)
K = 1  # the nearest training photo (measured on screws: K = 3 or 5 let 7-33 % more random textures pass)
FILE = familiarity_cut.INDEX_FILE
DEFAULT_PERCENTILE = familiarity_cut.DEFAULT_PERCENTILE
BATCH = 64
# Fewer validation photos than this make no gate: with 6 of them a 99th percentile is just "farther than the
# farthest of 6" and most new photos would be held back; the percentile is still told.
MIN_VALIDATION = 20


@dataclass(frozen=True)
class Familiarity:
    """One photo's familiarity: its distance, as a percentile of the validation photos', and the verdict."""

    distance: float
    percentile: float
    unfamiliar: bool

    def to_json(self) -> dict[str, object]:
        return {"percentile": round(self.percentile, 2), "unfamiliar": self.unfamiliar}


@dataclass(frozen=True)
class Index:
    """A run's training features (normalised rows) and its validation photos' distances, ascending."""

    train: np.ndarray
    val: np.ndarray

    def distances(self, features: np.ndarray) -> np.ndarray:
        """The distance of each row of `features` to its K-th nearest training photo (cosine, in [0, 2])."""
        unit = _normalised(features)
        k = min(K, len(self.train))
        out = np.empty(len(unit), dtype=np.float32)
        for start in range(0, len(unit), 256):  # bounded memory: 256 photos × the training set at a time
            sims = unit[start : start + 256] @ self.train.T
            kth = np.partition(-sims, k - 1, axis=1)[:, k - 1]
            out[start : start + 256] = 1.0 + kth  # 1 - similarity of the K-th nearest
        return out

    def percentile(self, distance: float) -> float:
        """The share of the validation photos at this distance or nearer, 0-100. With fewer than 100 validation
        photos a cut of 99 means farther than the farthest of them. (A log-normal fitted to them was tried: the
        distances of a model whose last stage was tuned have a heavier tail, and 6.5 % of the screws test crops
        fell past the fitted 99th percentile, against 2.2 % past the farthest validation photo.)"""
        return 100.0 * float(np.searchsorted(self.val, distance, side="right")) / max(1, len(self.val))

    def judge(self, features: np.ndarray, cut: float = DEFAULT_PERCENTILE) -> list[Familiarity]:
        """Each photo's familiarity; unfamiliar past the `cut` percentile of the validation distances (never with
        fewer than MIN_VALIDATION validation photos)."""
        gate = len(self.val) >= MIN_VALIDATION
        found = []
        for d in self.distances(features):
            share = self.percentile(float(d))
            found.append(Familiarity(float(d), share, gate and share > cut))
        return found


def _normalised(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


_SEEN = threading.local()


def attach(spec) -> None:
    """Keep what the head reads at every forward of this model, per thread (a server judges in many threads):
    prediction, Grad-CAM and inspection then get each photo's familiarity from the forward they already run."""
    average_only = spec.pooling == "avgmax"  # AvgMaxPool2d: [spatial mean, spatial max] along the channels

    def keep(_module, args, _out) -> None:
        rows = args[0].detach().flatten(1).float()
        _SEEN.features = rows[:, : rows.shape[1] // 2] if average_only else rows

    spec.head.register_forward_hook(keep)


def taken() -> np.ndarray | None:
    """The features of this thread's last forward of an attached model (then forgotten), or None."""
    rows = getattr(_SEEN, "features", None)
    _SEEN.features = None
    return None if rows is None else rows.cpu().numpy()


def features_of(spec, images: torch.Tensor, device: torch.device, stop: Callable[[], bool] | None = None) -> np.ndarray:
    """Features of uint8 N×3×S×S images (the model in eval mode and attached), in batches."""
    tf = transforms.eval_transform(spec.preprocess)
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), BATCH):
            if stop is not None and stop():
                raise InterruptedError("stopped while computing the familiarity index")
            chunk = torch.stack([tf(im) for im in images[start : start + BATCH]]).to(device)
            spec.model(chunk)
            out.append(taken())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def build_index(ws: Workspace, run: runs.Run, spec, device: torch.device) -> Index:
    """The run's index from its snapshot: training photos' features and validation photos' distances; kept in the
    run's folder (atomically). A run without training or validation photos has no index (ValidationError)."""
    items = runs.snapshot(ws.conn, run.id)
    train = [it for it in items if it.split == "train" and not it.held_out]
    val = [it for it in items if it.split == "val" or it.held_out]
    if not train or not val:
        raise ValidationError(
            f"run {run.id} has no training or no validation photos to measure familiarity against",
            key="familiarity.error.no_photos",
            run=run.id,
        )
    size = spec.preprocess.size
    train_f = features_of(spec, data.decode_all([ws.layout.cached(it.sha256) for it in train], size), device)
    val_f = features_of(spec, data.decode_all([ws.layout.cached(it.sha256) for it in val], size), device)
    index = Index(_normalised(train_f).astype(np.float16).astype(np.float32), np.zeros(0, dtype=np.float32))
    index = Index(index.train, np.sort(index.distances(val_f)))
    out = io.BytesIO()
    np.savez(out, train=index.train.astype(np.float16), val=index.val)
    write_atomic(ws.layout.run_dir(run.id) / FILE, out.getvalue())
    log.info("familiarity index of run %d: %d training photos, %d validation photos", run.id, len(train), len(val))
    return index


def load_index(path: Path) -> Index | None:
    """A kept index, or None when there is none or it cannot be read (it is then built again)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as kept:
            return Index(kept["train"].astype(np.float32), kept["val"].astype(np.float32))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        log.warning("familiarity index %s unreadable (%s): built again", path, exc)
        return None


def index_for(ws: Workspace, run: runs.Run, spec, device: torch.device) -> Index | None:
    """The run's index, built on first use when training did not leave one; None when it cannot have one."""
    kept = load_index(ws.layout.run_dir(run.id) / FILE)
    if kept is not None:
        return kept
    try:
        return build_index(ws, run, spec, device)
    except ValidationError as exc:
        log.info("no familiarity index: %s", exc)
    except (OSError, RuntimeError, CoreError) as exc:  # a photo gone from the cache, a full disk: judge without it
        log.warning("familiarity index of run %d not built: %s", run.id, exc)
    return None
