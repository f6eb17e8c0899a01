"""Stations on the Inspect page: a reference photo and its bolt positions, drawn by dragging a box on the
photo, named and reordered in a table, the crops previewed; saved as a new station or a new version (every
version is kept, so an old inspection still names the positions it used). Trainers edit; everyone sees."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st
from PIL import Image
from streamlit_image_coordinates import streamlit_image_coordinates

from core import auth, report, stations
from core.workspace import Workspace
from ui import components as ui

SHOWN_PX = 900  # the reference photo's width while drawing
DRAFT = "station_draft"  # session: {"name", "reference" (bytes), "positions": [{"name", x0, y0, x1, y1}]}
COLUMNS = ("name", "x0", "y0", "x1", "y1")


def _k(name: str) -> str:
    """A widget key of this draft: a saved draft bumps the nonce, so its photo, name and boxes start empty."""
    return f"{name}_{st.session_state.get('station_nonce', 0)}"


def _draft() -> dict:
    return st.session_state.setdefault(DRAFT, {"name": "", "reference": None, "positions": [], "edit": None})


def _load(ws: Workspace, name: str) -> None:
    """Start the draft from a saved station, to make its next version."""
    station = stations.get_station(ws.conn, name)
    _, data = stations.read_photo(stations.reference_path(ws, station), ws.settings.max_file_bytes)
    st.session_state[DRAFT] = {
        "name": station.name,
        "reference": data,
        "positions": [dict(zip(COLUMNS, (p.name, *p.box), strict=True)) for p in station.positions],
        "edit": station.name,
        "margin": station.margin,
    }


def _positions(rows: list[dict]) -> list[stations.Position]:
    return [stations.Position(str(r["name"]), tuple(int(r[k]) for k in COLUMNS[1:])) for r in rows]  # type: ignore[arg-type]


def _save(ws: Workspace, me: auth.Actor) -> None:
    draft = _draft()
    positions = _positions(draft["positions"])
    margin = float(st.session_state.get(_k("station_margin"), 0.0))
    if draft.get("edit"):
        saved = stations.update_station(
            ws, me, draft["edit"], positions=positions, margin=margin, reference=draft["reference"]
        )
    else:
        name = st.session_state.get(_k("station_name")) or draft["name"]
        saved = stations.add_station(ws, me, name, draft["reference"], positions, margin=margin)
    st.session_state.pop(DRAFT, None)
    st.session_state["station_nonce"] = st.session_state.get("station_nonce", 0) + 1
    ui.flash_ok(ui.tr("station.saved", name=ui.plain(saved.name), version=saved.version, n=len(saved.positions)))


def _drawn(draft: dict, point: dict | None, reference: Image.Image) -> None:
    """A drag on the photo adds a position (in reference pixels), named P<n>."""
    if not point or "x2" not in point:
        return
    seen = (point["x1"], point["y1"], point["x2"], point["y2"])
    if seen == draft.get("last_drag"):
        return
    draft["last_drag"] = seen
    factor = reference.width / point.get("width", SHOWN_PX)
    xs = sorted(min(max(0, round(v * factor)), reference.width) for v in (point["x1"], point["x2"]))
    ys = sorted(min(max(0, round(v * factor)), reference.height) for v in (point["y1"], point["y2"]))
    if xs[1] - xs[0] >= 8 and ys[1] - ys[0] >= 8:  # a click, not a box
        taken = {r["name"] for r in draft["positions"]}
        n = next(i for i in range(1, 1000) if f"P{i}" not in taken)
        draft["positions"].append({"name": f"P{n}", "x0": xs[0], "y0": ys[0], "x1": xs[1], "y1": ys[1]})


def _canvas(draft: dict, reference: Image.Image) -> None:
    boxes = [report.PositionView(r["name"], "pass", "", "", _corners(r), None, None) for r in draft["positions"]]
    shown = report.boxes_drawn(reference, boxes)
    shown.thumbnail((SHOWN_PX, SHOWN_PX * shown.height // shown.width + 1))
    st.caption(ui.tr("station.draw_help"))
    point = streamlit_image_coordinates(shown, key=_k("station_canvas"), click_and_drag=True, cursor="crosshair")
    before = len(draft["positions"])
    _drawn(draft, point, reference)
    if len(draft["positions"]) != before:
        st.rerun()


def _corners(r: dict) -> tuple[tuple[float, float], ...]:
    return ((r["x0"], r["y0"]), (r["x1"], r["y0"]), (r["x1"], r["y1"]), (r["x0"], r["y1"]))


def _table(draft: dict, reference: Image.Image) -> None:
    """Name, reorder (the row order is the positions' order) and fine-tune the boxes; preview the crops."""
    frame = pd.DataFrame(draft["positions"], columns=list(COLUMNS))
    edited = st.data_editor(frame, key=_k("station_table"), num_rows="dynamic", hide_index=False, width="stretch")
    draft["positions"] = [r for r in edited.to_dict("records") if str(r.get("name") or "").strip()]
    crops = []
    for r in draft["positions"][:24]:
        try:
            crops.append(reference.crop(tuple(int(r[k]) for k in COLUMNS[1:])))
        except (TypeError, ValueError):
            continue
    if crops:
        st.image(crops, width=96, caption=[str(r["name"]) for r in draft["positions"][: len(crops)]])


def editor(ws: Workspace, me: auth.Actor) -> None:
    """A new station, or the next version of one."""
    if not auth.can(me, "station"):
        st.caption(ui.tr("station.trainers_only"))
        return
    draft = _draft()
    found = [s.name for s in stations.list_stations(ws.conn)]
    cols = st.columns([2, 1])
    pick = cols[0].selectbox(
        ui.tr("station.edit"),
        ["", *found],
        key=_k(f"station_pick_{ui.lang()}"),
        format_func=lambda n: n or ui.tr("station.new"),
    )
    if pick and draft.get("edit") != pick:
        _load(ws, pick)
        draft = _draft()
    if not draft.get("edit"):
        draft["name"] = st.text_input(ui.tr("station.name"), key=_k("station_name"), max_chars=64)
    upload = st.file_uploader(ui.tr("station.reference"), type=["jpg", "jpeg", "png"], key=_k("station_reference"))
    if upload is not None:
        draft["reference"] = upload.getvalue()
    if not draft.get("reference"):
        st.caption(ui.tr("station.reference_help"))
        return
    reference = Image.open(io.BytesIO(draft["reference"])).convert("RGB")
    _canvas(draft, reference)
    _table(draft, reference)
    st.number_input(
        ui.tr("station.margin"), 0.0, 1.0, float(draft.get("margin", 0.0)), 0.05, key=_k("station_margin"),
        help=ui.tr("station.margin_help"),
    )  # fmt: skip
    st.button(
        ui.tr("station.save"),
        key="station_save",
        type="primary",
        icon=":material/save:",
        disabled=not draft["positions"] or not (draft.get("edit") or draft.get("name")),
        on_click=ui.act,
        args=(_save, ws),
    )


def listing(ws: Workspace) -> None:
    """The stations, their newest version, positions and model."""
    rows = [
        {
            ui.tr("station.col.name"): s.name,
            ui.tr("station.col.version"): s.version,
            ui.tr("station.col.positions"): ", ".join(p.name for p in s.positions),
            ui.tr("station.col.model"): s.run_id or ui.tr("station.production"),
            ui.tr("station.col.by"): f"{s.created_by} · {s.created_at[:16]}",
        }
        for s in stations.list_stations(ws.conn)
    ]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="station_list")
    else:
        st.caption(ui.tr("inspect.no_station"))
