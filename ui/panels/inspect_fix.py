"""The manual fix of an alignment the aligner was not sure of: the user clicks two positions in the photo, the
station's positions follow from those two points, and the photo is inspected again (a new record; the first
stays, as every record does)."""

from __future__ import annotations

import streamlit as st
from PIL import Image
from streamlit_image_coordinates import streamlit_image_coordinates

from core import align, auth, inspection_report, inspections, stations
from core.inspection_record import Inspection
from core.workspace import Workspace
from ui import components as ui

SHOWN_PX = 900  # the photo's width on screen while clicking


def _clicks(inspection_id: int) -> dict[str, tuple[float, float]]:
    return st.session_state.setdefault(f"insp_fix_{inspection_id}", {})


def _centre(box: tuple[int, int, int, int]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _again(ws: Workspace, me: auth.Actor, inspection_id: int) -> None:
    """Inspect the same photo again, aligned on the two clicked positions; the new record replaces the old
    one on screen."""
    from core.ml import explain, predict
    from core.ml import inspect as judging

    old = inspections.get_inspection(ws.conn, inspection_id)
    station = stations.station_by_id(ws.conn, old.station_id)
    clicks = _clicks(inspection_id)
    boxes = {p.name: p.box for p in station.positions}
    names = [n for n in clicks if n in boxes][:2]
    manual = align.from_points([_centre(boxes[n]) for n in names], [clicks[n] for n in names])
    data = inspections.photo_path(ws, old).read_bytes()
    _, ref = stations.read_photo(stations.reference_path(ws, station), ws.settings.max_file_bytes)
    result, judged = judging.inspect_photo(
        predict.load_predictor(ws, old.run_id),
        station,
        judging.decode_photo(ws, ref, station.name),
        judging.decode_photo(ws, data, old.photo_name),
        photo_sha256=old.photo_sha256,
        photo_name=old.photo_name,
        asset=old.asset,
        alignment=manual,
        cams=True,
    )
    new_id = inspections.record_inspection(ws, me, result, data)
    crops = [j.crop if j else None for j in judged]
    heat = [
        explain.overlay(j.crop, j.mask) if j and j.crop is not None and j.mask is not None else None for j in judged
    ]
    inspection_report.save_views(ws, new_id, crops, heat)
    shown = st.session_state.get("inspect_results", [])
    st.session_state["inspect_results"] = [new_id if i == inspection_id else i for i in shown]
    st.session_state.pop(f"insp_fix_{inspection_id}", None)
    ui.flash_ok(ui.tr("inspect.fix.done", old=inspection_id, id=new_id))


def panel(ws: Workspace, me: auth.Actor, inspection: Inspection) -> None:
    """Pick a position, click where it is in the photo; twice; then inspect again."""
    with st.expander(ui.tr("inspect.fix.title"), icon=":material/ads_click:", expanded=not inspection.alignment.ok):
        st.caption(ui.tr("inspect.fix.help"))
        clicks = _clicks(inspection.id)
        names = [p.name for p in inspection.positions]
        name = st.selectbox(ui.tr("inspect.fix.position"), names, key=f"insp_fix_pos_{inspection.id}")
        with Image.open(inspections.photo_path(ws, inspection)) as photo:
            shown = photo.convert("RGB")
        scale = shown.width / SHOWN_PX
        shown.thumbnail((SHOWN_PX, SHOWN_PX * shown.height // shown.width + 1))
        point = streamlit_image_coordinates(shown, key=f"insp_fix_click_{inspection.id}", cursor="crosshair")
        if point and (point["x"], point["y"]) != st.session_state.get(f"insp_fix_last_{inspection.id}"):
            st.session_state[f"insp_fix_last_{inspection.id}"] = (point["x"], point["y"])
            factor = scale * SHOWN_PX / point.get("width", SHOWN_PX)
            clicks[name] = (point["x"] * factor, point["y"] * factor)
        if clicks:
            st.caption(" · ".join(f"{ui.plain(n)}: ({x:.0f}, {y:.0f})" for n, (x, y) in clicks.items()))
        st.button(
            ui.tr("inspect.fix.go"),
            key=f"insp_fix_go_{inspection.id}",
            type="primary",
            disabled=len(clicks) < 2,
            on_click=ui.act,
            args=(_again, ws, inspection.id),
        )
