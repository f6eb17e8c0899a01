"""Helpers shared by the station and inspection-record tests (this module holds no tests): tiny photos, finished
runs without training, stations, and inspection results built by hand."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
from PIL import Image

from core import auth, db, stations
from core.align import Alignment
from core.config import TrainConfig
from core.inspections import InspectionResult, PositionResult
from core.workspace import Workspace

TRAINER = auth.Actor("tim", "trainer")
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
BOXES = [stations.Position("P1", (10, 10, 40, 40)), stations.Position("P2", (60, 20, 100, 70))]


def photo(seed: int = 0, size: tuple[int, int] = (160, 120), fmt: str = "PNG") -> bytes:
    """A small noisy picture whose content (and so hash) depends on the seed."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB").save(buf, fmt)
    return buf.getvalue()


def run_row(ws: Workspace, finished: bool = True) -> int:
    """A run as the worker leaves it (finished or still training), without any training."""
    with db.transaction(ws.conn) as conn:
        job = conn.execute(
            "INSERT INTO jobs (kind, status, config, created_by, created_at) VALUES ('train', 'done', '{}', 'x', ?)",
            (db.now_iso(),),
        ).lastrowid
        cur = conn.execute(
            "INSERT INTO runs (job_id, kind, arch, config, class_names, weights, versions, created_at, finished_at)"
            " VALUES (?, 'train', 'tiny_cnn', ?, ?, '{}', '{}', ?, ?)",
            (
                job,
                json.dumps(TrainConfig().to_dict()),
                json.dumps(["normal", "broken", "missing"]),
                db.now_iso(),
                db.now_iso() if finished else None,
            ),
        )
    return cur.lastrowid


def station(ws: Workspace, name: str = "wheel-1", seed: int = 0, **values: object) -> stations.Station:
    return stations.add_station(ws, TRAINER, name, photo(seed), values.pop("positions", BOXES), **values)


def result(
    st: stations.Station,
    data: bytes,
    run_id: int,
    labels: dict[str, str | None] | None = None,
    asset: str = "OHT-7/wheel-2",
    ok: bool = True,
) -> InspectionResult:
    """The result of inspecting `data` at `st`: each position normal unless `labels` says otherwise (None: unfit)."""
    labels = labels or {}
    positions = []
    for pos in st.positions:
        label = labels.get(pos.name, "normal") if ok else None
        x0, y0, x1, y1 = pos.box
        corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
        probs = {} if label is None else {"normal": 0.1, "broken": 0.1, "missing": 0.1, label: 0.8}
        unfit = None if label is not None else ("outside" if ok else "alignment")
        positions.append(PositionResult(pos.name, pos.box, corners, label, label != "normal", probs, unfit))
    return InspectionResult(
        photo_sha256=hashlib.sha256(data).hexdigest(),
        photo_name="wheel.png",
        size=Image.open(io.BytesIO(data)).size,
        station=st,
        asset=asset,
        alignment=Alignment(ok, 0.9 if ok else 0.2, IDENTITY, "auto", None if ok else "too few matches"),
        positions=tuple(positions),
        run_id=run_id,
        threshold=0.5,
    )
