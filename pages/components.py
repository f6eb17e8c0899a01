"""Shared widgets and session helpers for the pages: workspace, language, user, image cards."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from core import auth, i18n, jobs, store
from core.errors import CoreError
from core.workspace import Workspace, open_workspace


def workspace_path() -> str | None:
    """`streamlit run app.py -- --workspace DIR` wins over $BOLTSCOPE_WORKSPACE and the default."""
    argv = sys.argv[1:]
    if "--workspace" in argv and argv.index("--workspace") + 1 < len(argv):
        return argv[argv.index("--workspace") + 1]
    return os.environ.get("BOLTSCOPE_WORKSPACE")


def workspace() -> Workspace:
    """One open workspace (and SQLite connection) per browser session: transactions never mix."""
    if "ws" not in st.session_state:
        try:
            st.session_state.ws = open_workspace(workspace_path())
        except CoreError as exc:  # a read-only or unreadable workspace: say so instead of a traceback
            st.error(tr("common.error", message=str(exc)), icon=":material/error:")
            st.stop()
    return st.session_state.ws


def lang() -> str:
    return st.session_state.get("lang", "en")


def tr(key: str, **values: object) -> str:
    return i18n.t(key, lang(), **values)


def actor() -> auth.Actor:
    """The acting user: app.py signs them in (pages.session) before any page runs."""
    me = st.session_state.get("actor")
    if me is None:
        st.stop()  # a page opened without going through app.py's sign-in
    return me


def label_names(ws: Workspace) -> dict[str, str]:
    """Label name -> display name in the current language, in configured order."""
    return {lab.name: lab.display(lang()) for lab in store.list_labels(ws.conn)}


def label_text(ws: Workspace, label: str | None) -> str:
    return label_names(ws).get(label, label) if label else tr("common.unlabeled")


def local_time(iso: str | None) -> str:
    if not iso:
        return tr("common.none")
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def flash() -> None:
    """Show (once) the message a button callback left for this rerun."""
    message = st.session_state.pop("flash", None)
    if message:
        kind, text = message
        (st.error if kind == "error" else st.success)(text)


def error_text(exc: Exception) -> str:
    """A core error in the user's language: its text key when it has one (and the key is translated),
    else its English message."""
    key = getattr(exc, "key", None)
    if key and key in i18n.EN:
        return tr(key, **getattr(exc, "detail", {}))
    return str(exc)


def show_error(exc: Exception) -> None:
    st.error(tr("common.error", message=error_text(exc)))


def history_table(ws: Workspace, image_id: int) -> None:
    events = store.history(ws.conn, image_id)
    rows = [{
        tr("history.col_at"): local_time(e.at),
        tr("history.col_user"): e.user,
        tr("history.col_from"): label_text(ws, e.old_label) if e.old_label else tr("common.none"),
        tr("history.col_to"): label_text(ws, e.new_label),
        tr("history.col_source"): tr(f"source.{e.source}"),
    } for e in reversed(events)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def image_card(ws: Workspace, image: store.Image, openable: bool = True) -> bool:
    """Thumbnail with id, label, split and a select box; True when its 'open' button was pressed."""
    with st.container(border=True):
        st.image(str(ws.layout.thumb(image.sha256)), width="stretch")
        st.caption(f"**{label_text(ws, image.label)}** · {tr('split.' + (image.split or 'train'))}")
        left, right = st.columns([3, 2], vertical_alignment="center")
        left.checkbox(f"#{image.id}", key=f"sel_{image.id}")
        return openable and right.button("", icon=":material/zoom_in:", key=f"open_{image.id}",
                                         help=tr("dataset.open"), width="stretch")


def selected_ids(candidates: list[int]) -> list[int]:
    return [i for i in candidates if st.session_state.get(f"sel_{i}")]


def clear_selection(ids: list[int]) -> None:
    for i in ids:
        st.session_state.pop(f"sel_{i}", None)


@st.fragment(run_every=5.0)
def job_status(ws: Workspace) -> None:
    """Sidebar: how many jobs run and wait, so a user on any page knows training is under way."""
    counts = {status: 0 for status in jobs.ACTIVE}
    for job in jobs.list_jobs(ws.conn, limit=200):
        if job.status in counts:
            counts[job.status] += 1
    if counts["running"] or counts["queued"]:
        st.caption(":material/model_training: " + tr("app.jobs", running=counts["running"], queued=counts["queued"]))


def choice(where, label: str, options: list, key: str, format_func, index: int = 0, **kwargs):
    """A select box whose option texts are translated.

    Streamlit keeps the option texts a keyed select box first drew, so after a language switch it would
    go on showing the old language. The key therefore carries the language, and the choice made under
    the other language is carried over.
    """
    for code in i18n.LANGUAGES:
        earlier = st.session_state.get(f"{key}_{code}")
        if code != lang() and earlier in options:
            index = options.index(earlier)
    return where.selectbox(label, options, index=index, key=f"{key}_{lang()}", format_func=format_func, **kwargs)


@st.cache_resource(show_spinner=False, max_entries=4)
def _predictor(workspace: str, run_id: int | None, stamp: str):
    from core import predict  # the torch tier, loaded only by pages that show model output

    return predict.load(workspace_for_models(workspace), run_id)


def workspace_for_models(path: str) -> Workspace:
    """A connection of the model cache's own: cached models outlive the session that loaded them."""
    return open_workspace(path)


def predictor(ws: Workspace, run_id: int | None = None):
    """The model of run_id (default: production), loaded once per process and reloaded when the production
    run or its operating point changes."""
    from core import runs

    chosen = run_id or runs.production_run_id(ws.conn)
    stamp = f"{chosen}:{runs.get_run(ws.conn, chosen).operating_point}" if chosen else "none"
    return _predictor(str(ws.settings.workspace), run_id, stamp)


@st.cache_data(show_spinner=False, max_entries=256)
def heatmap(_predictor, run_id: int, sha256: str, path: str, target: int) -> tuple[object, float]:
    """Grad-CAM overlay of a stored photo for one class, and its ROAD faithfulness score (cached)."""
    from PIL import Image

    from core import explain

    stored = Path(path)  # the workspace copy: the model sees exactly what training saw
    with Image.open(stored) as img:
        photo = img.convert("RGB")
    mask, _ = explain.cam_mask(_predictor, stored, "gradcam", target)
    return explain.overlay(photo, mask), explain.faithfulness(_predictor, stored, mask, target)
