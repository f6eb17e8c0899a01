"""The models the API answers with, loaded once per server process and reloaded when the production run or its
operating point changes (as the Diagnose page's cache does). The torch tier is imported only when one is loaded."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from core import evaluation, runs
from core.errors import NotFoundError
from core.workspace import Workspace

KEEP = 2  # the production model and one station's own model stay loaded
KEEP_REFERENCES = 4  # decoded reference photos (a 2448×2048 one is 15 MB)
_lock = threading.Lock()  # one load at a time: two first calls at once load the model once
_loaded: OrderedDict[tuple[str, int, str], Loaded] = OrderedDict()
_references: OrderedDict[tuple[str, int], object] = OrderedDict()


@dataclass(frozen=True)
class Loaded:
    predictor: object  # core.ml.predict.Predictor (the torch tier is not imported here)
    run_id: int
    operating_point: dict[str, object]  # {"threshold", "target_recall", "val_defect_recall", ...}; {} when none


def _stamp(ws: Workspace, run_id: int | None) -> tuple[int, str]:
    chosen = run_id or runs.production_run_id(ws.conn)
    if chosen is None:
        raise NotFoundError(
            "there is no production model yet: train one and promote it on the Evaluate page",
            key="diagnose.no_model",
        )
    return chosen, str(runs.get_run(ws.conn, chosen).operating_point)


def model(ws: Workspace, run_id: int | None = None) -> Loaded:
    """The model of run_id (default: production) with its operating point; NotFoundError when there is none."""
    chosen, stamp = _stamp(ws, run_id)
    key = (str(ws.settings.workspace), chosen, stamp)
    with _lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
        from core.ml import predict  # the torch tier, only when a model is needed

        predictor = predict.load_predictor(ws, chosen)
        point = evaluation.operating_point(ws.conn, predictor.run)
        shown = point.to_json() if point else {}
        shown.pop("costs", None)
        shown["threshold"] = predictor.threshold
        _loaded[key] = Loaded(predictor, chosen, shown)
        while len(_loaded) > KEEP:
            _loaded.popitem(last=False)
        return _loaded[key]


def station_setup(ws: Workspace, station_name: str):
    """core.ml.inspect.Setup for the station's newest version: its reference photo (decoded once per version) and
    its model (station.run_id, else production) from the cache above; NotFoundError for an unknown station."""
    from core import stations
    from core.ml import inspect  # the torch tier

    station = stations.get_station(ws.conn, station_name)
    loaded = model(ws, station.run_id)
    key = (str(ws.settings.workspace), station.id)  # a row per version: an edited station is another key
    with _lock:
        reference = _references.get(key)
        if reference is None:
            _, data = stations.read_photo(stations.reference_path(ws, station), ws.settings.max_file_bytes)
            reference = inspect.decode_photo(ws, data, f"{station.name} reference")
            _references[key] = reference
            while len(_references) > KEEP_REFERENCES:
                _references.popitem(last=False)
        _references.move_to_end(key)
    return inspect.Setup(station, reference, loaded.predictor)


def forget() -> None:
    """Drop every loaded model and reference (tests; a server never needs it: a changed production run or
    station version has another key)."""
    with _lock:
        _loaded.clear()
        _references.clear()
