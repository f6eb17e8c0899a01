"""Shared widgets and session helpers for the pages: workspace, language, user, image cards."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from core import auth, csvfile, doctor, i18n, jobs, label_set, store
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
        except CoreError as exc:  # a read-only, unreadable or damaged workspace: say so instead of a traceback
            # the chosen language lives in the workspace; without it, follow the browser's
            if "lang" not in st.session_state and (st.context.locale or "").lower().startswith("ko"):
                st.session_state.lang = "ko"
            st.error(tr("common.error", message=error_text(exc)), icon=":material/error:")
            st.stop()
    return st.session_state.ws


def lang() -> str:
    return st.session_state.get("lang", "en")


def tr(key: str, **values: object) -> str:
    return i18n.t(key, lang(), **values)


def actor() -> auth.Actor:
    """The acting user: app.py signs them in (ui.session) before any page runs."""
    me = st.session_state.get("actor")
    if me is None:
        st.stop()  # a page opened without going through app.py's sign-in
    return me


def act(action: Callable[..., object], ws: Workspace, *args: object, **kwargs: object) -> None:
    """The one way a button runs an action that changes something: on_click=ui.act, args=(action, ws, ...).

    Streamlit runs a callback before app.py, with whatever the run that drew the button bound, and a live
    fragment's rerun never passes through app.py. So the actor is read again here, now, from the sessions
    and users tables; action(ws, me, *args, **kwargs) runs only while the session is open, with the role the
    account has now, and a refusal deep in core is audited and flashed, translated. When the session has
    ended the action does not run, and the run that follows shows the sign-in with the reason."""
    from ui import session  # ui.session imports this module

    me = session.current(ws)
    if me is None:
        return
    try:
        with auth.audit_refusals(ws.conn):
            action(ws, me, *args, **kwargs)
    except CoreError as exc:
        flash_error(exc)


def live(every: float) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """st.fragment(run_every=every) for a view that redraws itself. Each redraw first asks whether this tab's
    session is still open, without counting as activity (a screen left open does not keep a session alive);
    once it has ended, the whole page runs again and shows the sign-in, so the view stops showing data."""

    def wrap(body: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(body)
        def guarded(*args: object, **kwargs: object) -> None:
            from ui import session  # ui.session imports this module

            had = "session_id" in st.session_state
            if session.current(workspace(), touch_it=False) is None:
                if had:  # ended since the last run: the whole page again, which shows the sign-in
                    st.rerun(scope="app")
                return
            body(*args, **kwargs)

        return st.fragment(run_every=every)(guarded)

    return wrap


def label_names(ws: Workspace) -> dict[str, str]:
    """Label name -> display name in the current language, in configured order."""
    return {lab.name: lab.display(lang()) for lab in label_set.list_labels(ws.conn)}


def label_text(ws: Workspace, label: str | None) -> str:
    return label_names(ws).get(label, label) if label else tr("common.unlabeled")


def label_md(ws: Workspace, label: str | None) -> str:
    """`label_text` made safe for markdown (captions, buttons, messages): display names are configurable."""
    return plain(label_text(ws, label))


# Escaped wherever they are: what makes links, pictures, HTML, emphasis, code, headings, tables, quotes, maths,
# strike-through, colours and icons. At the start only: what starts a list or a rule ("- ", "+ ", "1. ", "---").
_MARKUP = re.compile(
    r"([\\`*{}\[\]()#<>!|$~:@&]|(?<![^\W_])_|_(?![^\W_]))"  # "_" within a word: no emphasis
    r"|^([-+=](?=[-+=\s]|$)|\d+(?=\.(?:\s|$)))"
)
_UNLINK = re.compile(r"\\[:@]|(?i:www)(?=\.)")  # where `plain` puts a word joiner (U+2060)


def plain(value: object) -> str:
    """A user-supplied text (file name, user name, label, note, path) for a markdown string, shown as typed:
    the marks markdown reads are backslash-escaped (CommonMark shows each as itself), so no link, picture, HTML
    tag, emphasis, heading, colour or formula can come of it; line breaks become spaces. Escapes do not stop the
    bare-URL links markdown makes of "http://", "www." and "name@host", nor Streamlit's ":icon:" directives: an
    invisible word joiner after each ":" and "@" and inside "www." does. Figures ("0.750") stay as they are."""
    text = _MARKUP.sub(_escaped, re.sub(r"\s+", " ", str(value)))
    return _UNLINK.sub("\\g<0>\u2060", text)


def _escaped(found: re.Match) -> str:
    if found[1]:
        return "\\" + found[1]
    return found[2] + "\\" if found[2][0].isdigit() else "\\" + found[2]  # "1." -> "1\." (the dot escaped)


def plain_values(values: dict[str, object]) -> dict[str, object]:
    """The values of a translated message (a core error's detail), texts made `plain`; numbers kept."""
    return {key: plain(value) if isinstance(value, str) else value for key, value in values.items()}


def _moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()


def local_time(iso: str | None, seconds: bool = False) -> str:
    """A stored UTC time in this server's time zone, written the way the user's language writes dates;
    "—" when there is none."""
    if not iso:
        return tr("common.none")
    return tr("common.datetime_s" if seconds else "common.datetime", at=_moment(iso))


def local_date(iso: str | None) -> str:
    return tr("common.date", at=_moment(iso)) if iso else tr("common.none")


def iso_time(iso: str | None) -> str:
    """The same moment as ISO 8601 with the offset, for CSV files that spreadsheets sort."""
    return _moment(iso).isoformat(timespec="seconds") if iso else ""


def date_format() -> str:
    """The `format` of st.date_input in the user's language."""
    return tr("common.date_input")


# Decimals a figure of each kind is shown with: F1 and other ratios 3, milliseconds 0, GFLOPs 2.
DECIMALS = {"f1": 3, "ratio": 3, "ms": 0, "gflops": 2, "count": 0}


def fmt(value: float | int | None, kind: str = "f1") -> str:
    """One figure as text with the decimals of its kind (thousands separated); None or NaN: "—"."""
    if value is None or pd.isna(value):
        return tr("common.none")
    return f"{value:,.{DECIMALS[kind]}f}"


def number_column(kind: str, label: str | None = None, **kwargs: object):
    """A dataframe column showing figures of a kind rounded (they stay numbers, so they sort as numbers)."""
    return st.column_config.NumberColumn(label, format=f"%.{DECIMALS[kind]}f", **kwargs)


def empty(key: str = "common.empty", **values: object) -> None:
    """Say that a table or list has nothing to show yet, instead of drawing an empty grid."""
    st.caption(":material/inbox: " + tr(key, **values))


def table(data, *, empty_key: str = "common.empty", formats: dict[str, str] | None = None, **kwargs):
    """st.dataframe with the house rules: no index, full width, missing values as "—", the columns named in
    formats ({column: kind}) rounded as `fmt` rounds; `empty(empty_key)` instead of an empty grid.
    Other keyword arguments go to st.dataframe (key, height, column_config, on_select, ...). Returns what
    st.dataframe returns, or None when there was nothing to show."""
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if frame.empty:
        empty(empty_key)
        return None
    config = {column: number_column(kind) for column, kind in (formats or {}).items()}
    config.update(kwargs.pop("column_config", None) or {})
    kwargs.setdefault("hide_index", True)
    kwargs.setdefault("width", "stretch")
    return st.dataframe(frame, column_config=config or None, placeholder=tr("common.none"), **kwargs)


def flash() -> None:
    """Show (once) the message a button callback left for this rerun: "ok", "warning" or "error", nothing else."""
    message = st.session_state.pop("flash", None)
    if message:
        kind, text = message
        {"error": st.error, "warning": st.warning}.get(kind, st.success)(text)


def flash_warning(text: str) -> None:
    """Leave a warning for the next rerun's `flash()`: something the user should know, nothing failed."""
    st.session_state.flash = ("warning", text)


def flash_ok(text: str) -> None:
    """Leave a success message for the next rerun's `flash()` (from a button callback)."""
    st.session_state.flash = ("ok", text)


def error_text(exc: Exception) -> str:
    """A core error in the user's language: its text key when it has one (and the key is translated),
    else its English message."""
    key = getattr(exc, "key", None)
    if key and key in i18n.EN:  # the values are what users typed (names, files): plain text
        return tr(key, **plain_values(getattr(exc, "detail", {})))
    return plain(exc)


def show_error(exc: Exception) -> None:
    st.error(tr("common.error", message=error_text(exc)))


def flash_error(exc: Exception) -> None:
    """Leave a core error, translated, for the next rerun's `flash()` (from a button callback)."""
    st.session_state.flash = ("error", tr("common.error", message=error_text(exc)))


def history_table(ws: Workspace, image_id: int) -> None:
    events = store.history(ws.conn, image_id)
    rows = [
        {
            tr("history.col_at"): local_time(e.at),
            tr("history.col_user"): e.user,
            tr("history.col_from"): label_text(ws, e.old_label) if e.old_label else tr("common.none"),
            tr("history.col_to"): label_text(ws, e.new_label),
            tr("history.col_source"): tr(f"source.{e.source}"),
        }
        for e in reversed(events)
    ]
    table(rows)


# Shown where a photo's thumbnail or cache copy is missing and cannot be rebuilt (no original, refused by the
# current limits, a read-only workspace): a grey frame with a crossed-out picture, never a traceback.
PLACEHOLDER = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 256 256" width="256" height="256">'
    '<rect width="256" height="256" rx="6" fill="#eceff1"/>'
    '<g fill="none" stroke="#90a4ae" stroke-width="6" stroke-linejoin="round" stroke-linecap="round">'
    '<rect x="78" y="86" width="100" height="84" rx="6"/><circle cx="104" cy="112" r="9"/>'
    '<path d="M84 162l30-32 20 20 14-14 24 26"/><path d="M66 74l124 112"/></g></svg>'
)


def picture(ws: Workspace, image: store.Image, kind: str = "thumb") -> bytes | str:
    """What st.image should show for a stored photo: its thumbnail ("thumb") or cache copy ("cached"), read
    now; when that file is missing (removed by hand, a crash) it is rebuilt from the original, and where that
    cannot be done the PLACEHOLDER picture is shown instead."""
    path = ws.layout.thumb(image.sha256) if kind == "thumb" else ws.layout.cached(image.sha256)
    with contextlib.suppress(OSError):
        return path.read_bytes()
    try:
        if doctor.rebuild_derived(ws, image.sha256, image.ext):
            return path.read_bytes()
    except (CoreError, OSError):
        pass
    return PLACEHOLDER


def image_card(ws: Workspace, image: store.Image, openable: bool = True) -> bool:
    """Thumbnail with id, label, split and a select box; True when its 'open' button was pressed."""
    with st.container(border=True):
        st.image(picture(ws, image), width="stretch")
        st.caption(f"**{label_md(ws, image.label)}** · {tr('split.' + (image.split or 'train'))}")
        left, right = st.columns([3, 2], vertical_alignment="center")
        left.checkbox(f"#{image.id}", key=f"sel_{image.id}")
        return openable and right.button(
            "", icon=":material/zoom_in:", key=f"open_{image.id}", help=tr("dataset.open"), width="stretch"
        )


def selected_ids(candidates: list[int]) -> list[int]:
    return [i for i in candidates if st.session_state.get(f"sel_{i}")]


def clear_selection(ids: list[int]) -> None:
    for i in ids:
        st.session_state.pop(f"sel_{i}", None)


@live(5.0)
def job_status(ws: Workspace) -> None:
    """Sidebar: how many jobs run and wait, so a user on any page knows training is under way."""
    counts = {status: 0 for status in jobs.ACTIVE}
    for job in jobs.list_jobs(ws.conn, limit=200):
        if job.status in counts:
            counts[job.status] += 1
    if counts["running"] or counts["queued"]:
        st.caption(":material/model_training: " + tr("app.jobs", running=counts["running"], queued=counts["queued"]))


def choice(
    where, label: str, options: list, key: str, format_func, index: int = 0, widget: str = "selectbox", **kwargs
):
    """A select box (or, with widget="radio", radio buttons) whose option texts are translated.

    Streamlit keeps the option texts a keyed select box first drew, so after a language switch it would
    go on showing the old language. The key therefore carries the language, and the choice made under
    the other language is carried over.
    """
    for code in i18n.LANGUAGES:
        earlier = st.session_state.get(f"{key}_{code}")
        if code != lang() and earlier in options:
            index = options.index(earlier)
    return getattr(where, widget)(
        label, options, index=index, key=f"{key}_{lang()}", format_func=frozen(options, format_func), **kwargs
    )


def frozen(options: list, format_func):
    """format_func with its texts made now, in this run's language: Streamlit (and AppTest) may call a format
    function outside the script run, where it could not read the session's language."""
    texts = [format_func(option) for option in options]
    return lambda option: texts[options.index(option)] if option in options else str(option)


def choices(where, label: str, options: list, key: str, format_func, **kwargs) -> list:
    """A multiselect whose option texts are translated; like `choice`, its key carries the language and the
    selection made under the other language is carried over."""
    if f"{key}_{lang()}" not in st.session_state:
        for code in i18n.LANGUAGES:
            earlier = st.session_state.get(f"{key}_{code}")
            if code != lang() and earlier:
                kwargs["default"] = [o for o in earlier if o in options]
    return where.multiselect(label, options, key=f"{key}_{lang()}", format_func=frozen(options, format_func), **kwargs)


def csv_bytes(rows: list[dict[str, object]]) -> bytes:
    """Rows as a CSV file that Excel opens with Korean text intact (UTF-8 with a byte-order mark)."""
    return csvfile.dicts_bytes(rows)


@st.cache_resource(show_spinner=False, max_entries=4)
def _predictor(workspace: str, run_id: int | None, stamp: str):
    from core.ml import predict  # the torch tier, loaded only by pages that show model output

    # a model keeps no connection: the one it is loaded through is closed here, not left (in a reference cycle)
    # for the garbage collector, one more open database file per model loaded
    with contextlib.closing(workspace_for_models(workspace)) as ws:
        return predict.load_predictor(ws, run_id)


def workspace_for_models(path: str) -> Workspace:
    """A workspace of the model cache's own, not a session's (cached models outlive the session that loaded
    them); the caller closes it."""
    return open_workspace(path)


def predictor(ws: Workspace, run_id: int | None = None):
    """The model of run_id (default: production), loaded once per process and reloaded when the production
    run, its operating point, the familiarity cut or the run's familiarity index changes."""
    from core import familiarity_cut, runs

    chosen = run_id or runs.production_run_id(ws.conn)
    stamp = "none"
    if chosen:
        gate = familiarity_cut.stamp(ws.conn, ws.layout.run_dir(chosen))
        stamp = f"{chosen}:{runs.get_run(ws.conn, chosen).operating_point}:{gate}"
    return _predictor(str(ws.settings.workspace), run_id, stamp)


@st.cache_data(show_spinner=False, max_entries=256)
def heatmap(_predictor, run_id: int, sha256: str, path: str, target: int) -> tuple[object, float]:
    """Grad-CAM overlay of a stored photo for one class, and its ROAD faithfulness score (cached)."""
    from PIL import Image

    from core.ml import explain

    stored = Path(path)  # the workspace copy: the model sees exactly what training saw
    with Image.open(stored) as img:
        photo = img.convert("RGB")
    mask, _ = explain.cam_mask(_predictor, stored, "gradcam", target)
    return explain.overlay(photo, mask), explain.faithfulness(_predictor, stored, mask, target)
