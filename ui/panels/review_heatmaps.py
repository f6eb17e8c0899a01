"""Review heatmaps off the script thread: the next photos' Grad-CAM is prepared while the user looks at the
current one, and a photo is shown at once, its heatmap filling in when it is ready.

One worker thread computes heatmaps in the order asked: the current photo's, then the next photos'. Another
computes the shown photo's faithfulness score once its heatmap is there (ROAD: many forwards and an image
inpainting, about twenty times a heatmap's cost, so it must never hold a heatmap up). A decision asks for the
new current photo and the ones after it; what this session asked for before and no longer needs is dropped if
it has not started yet.
"""

from __future__ import annotations

import io
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core import review, runs, store
from core.errors import CoreError
from core.workspace import Workspace
from ui import components as ui

AHEAD = 2  # queue items after the current one whose heatmaps are prepared ahead
KEEP = 12  # finished results held (heatmaps and scores)
POLL_S = 0.4  # how often a photo whose heatmap is not ready yet looks again

# one worker each: Grad-CAM already spreads over every core through torch, and order matters (current photo first)
_pools = {
    "heatmap": ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-heatmap"),
    "faithfulness": ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-faithfulness"),
}
_lock = threading.Lock()
_jobs: OrderedDict[tuple[str, Request], Future] = OrderedDict()
_wanted: OrderedDict[str, frozenset[tuple[str, Request]]] = OrderedDict()  # per session: what it asked for last
_local = threading.local()  # each worker thread's own workspace connections (SQLite: one thread each)


@dataclass(frozen=True)
class Request:
    """One heatmap: the workspace and run whose model explains, the stored photo, the class to explain."""

    workspace: str
    run_id: int
    sha256: str
    path: str
    target: int
    label: str


def plan(ws: Workspace, run_id: int | None, items: Sequence[review.Item]) -> list[Request]:
    """Requests for the items that have a run and a predicted class the run knows, in queue order."""
    if run_id is None:
        return []
    classes = runs.get_run(ws.conn, run_id).class_names
    out = []
    for item in items:
        if item.predicted in classes:
            sha = store.get_image(ws.conn, item.image_id).sha256
            out.append(
                Request(
                    str(ws.settings.workspace),
                    run_id,
                    sha,
                    str(ws.layout.cached(sha)),
                    classes.index(item.predicted),
                    item.predicted,
                )
            )
    return out


def _model(req: Request):
    """In the worker thread: the run's model, loaded once per process (the cache Diagnose uses too)."""
    opened = _local.__dict__.setdefault("workspaces", {})
    if req.workspace not in opened:
        opened[req.workspace] = ui.workspace_for_models(req.workspace)
    return ui.predictor(opened[req.workspace], req.run_id)


def _heatmap(req: Request) -> tuple[bytes, object]:
    """The Grad-CAM overlay at the photo's size as JPEG (encoded here once, not in every rerun), and the
    model-input-sized mask (for the score)."""
    from PIL import Image

    from core.ml import explain

    mask, _ = explain.cam_mask(_model(req), Path(req.path), "gradcam", req.target)
    with Image.open(req.path) as img:
        shown = explain.overlay(img.convert("RGB"), mask)
    out = io.BytesIO()
    shown.save(out, "JPEG", quality=90)
    return out.getvalue(), mask


def _faithfulness(req: Request, mask: object) -> float:
    """The ROAD score of the photo's heatmap mask."""
    from core.ml import explain

    return explain.faithfulness(_model(req), Path(req.path), mask, req.target)


_WORK = {"heatmap": _heatmap, "faithfulness": _faithfulness}


def _submit(kind: str, req: Request, *args: object) -> Future:
    with _lock:
        job = _jobs.get((kind, req))
        if job is None or job.cancelled():
            job = _jobs[(kind, req)] = _pools[kind].submit(_WORK[kind], req, *args)
        _jobs.move_to_end((kind, req))
        finished = [key for key, f in _jobs.items() if f.done()]
        for key in finished[: max(0, len(finished) - KEEP)]:
            del _jobs[key]
        return job


def heatmap(req: Request) -> Future:
    """The (possibly finished) computation of one heatmap: (overlay, mask); started if nobody asked yet."""
    return _submit("heatmap", req)


def want(requests: Sequence[Request], score: Request | None = None) -> None:
    """This session asks for these heatmaps in this order, and will ask for the score of one (the current
    photo's) when its heatmap is ready; its earlier requests that have not started are dropped."""
    jobs = [("heatmap", req) for req in requests]
    owner = st.session_state.setdefault("review_heatmap_owner", uuid.uuid4().hex)
    with _lock:
        for old in _wanted.pop(owner, frozenset()) - set(jobs):
            job = _jobs.get(old)
            if job is not None and job.cancel():
                del _jobs[old]
        _wanted[owner] = frozenset(jobs + ([("faithfulness", score)] if score else []))
        while len(_wanted) > 256:  # sessions that went away
            _wanted.popitem(last=False)
    for kind, req in jobs:
        _submit(kind, req)


def show(req: Request) -> None:
    """The heatmap and its score when they are ready; until then a placeholder that looks again."""
    job = heatmap(req)
    if not job.done():
        ui.live(POLL_S)(_wait)("heatmap", req)
        return
    if isinstance(job.exception(), CoreError):  # another error is raised by result() and shown
        st.caption(ui.tr("review.heatmap.failed", message=ui.error_text(job.exception())))
        return
    shown, mask = job.result()
    st.image(shown, width="stretch", caption=ui.tr("review.heatmap", label=ui.label_md(ui.workspace(), req.label)))
    _uniform_warning(req.run_id)
    score = _submit("faithfulness", req, mask)
    if not score.done():
        ui.live(4 * POLL_S)(_wait)("faithfulness", req)
    elif not isinstance(score.exception(), CoreError):  # another error is raised by result() and shown
        st.caption(ui.tr("review.faithfulness", road=f"{score.result():.2f}"))


def _uniform_warning(run_id: int) -> None:
    """The run's kept heatmap check says its heatmaps are no better than uniform: say so under the heatmap."""
    from core.ml import heatmap_check
    from ui.panels import evaluate as evaluate_panels

    check = heatmap_check.stored(ui.workspace(), run_id)
    if check is not None and check.uniform:
        evaluate_panels.uniform_warning(check.centre_share)


def _wait(kind: str, req: Request) -> None:
    with _lock:
        job = _jobs.get((kind, req))
    if job is None or job.done():  # ready, or dropped meanwhile: the full run asks again
        if st.session_state.get("review_flash_shown"):  # the full run below shows the decision's message again
            st.session_state.flash = st.session_state.review_flash_shown
        st.rerun()  # a full run draws the result in place and ends this polling
    st.caption(":material/hourglass_top: " + ui.tr(f"review.{kind}.pending"))
