"""Inspect page, the daily job: whole photos checked bolt by bolt at a station. Each photo is aligned to the
station's reference, every position cropped and judged in one batch, and the record kept; the photo comes
back with each box coloured by its verdict, every position's crop and heatmap, and its report."""

from __future__ import annotations

import streamlit as st

from core import auth, inspection_dataset, inspection_report, inspections, report, stations
from core.errors import CoreError
from core.workspace import Workspace
from ui import components as ui
from ui.panels import inspect_fix

TYPES = ("jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp")
MAX_PHOTOS = 20  # a batch: a wheel's photos, not an archive (the CLI and the API take more)
RESULTS = "inspect_results"  # session: the ids of the inspections this tab shows
REFUSED = "inspect_refused"  # session: (file name, reason) of the photos the last batch refused
STATE_ICON = {"pass": ":material/check_circle:", "defect": ":material/report:", "check": ":material/help:"}


def _uploads() -> list[tuple[str, bytes]]:
    files = st.session_state.get("insp_files") or []
    camera = st.session_state.get("insp_camera") if st.session_state.get("insp_camera_on") else None
    return [(f.name, f.getvalue()) for f in files] + ([("camera.jpg", camera.getvalue())] if camera else [])


def _run(ws: Workspace, me: auth.Actor, station_name: str) -> None:
    """Inspect the dropped photos (callback of the Inspect button): record each, keep crops and heatmaps."""
    from core.ml import inspect as judging

    uploads = _uploads()[:MAX_PHOTOS]
    asset = st.session_state.get("insp_asset", "")
    setup = judging.load_setup(ws, station_name)
    done, refused = [], []
    for name, data in uploads:
        try:
            inspection_id, _, judged = judging.inspect_data(ws, me, setup, name, data, asset, cams=True)
        except CoreError as exc:
            refused.append((name, ui.error_text(exc)))
            continue
        judging.keep_views(ws, inspection_id, judged)
        done.append(inspection_id)
    st.session_state[RESULTS], st.session_state[REFUSED] = done, refused
    if done:
        ui.flash_ok(ui.tr("inspect.done", n=len(done), asset=ui.plain(asset) or "—"))


def inputs(ws: Workspace, me: auth.Actor) -> None:
    """Station, asset, photos (dropped or taken with the camera), and the Inspect button."""
    found = stations.list_stations(ws.conn)
    if not found:
        st.info(ui.tr("inspect.no_station"), icon=":material/info:")
        return
    left, right = st.columns(2)
    name = left.selectbox(ui.tr("inspect.station"), [s.name for s in found], key="insp_station")
    right.text_input(ui.tr("inspect.asset"), key="insp_asset", max_chars=80, placeholder=ui.tr("inspect.asset_hint"))
    st.file_uploader(ui.tr("inspect.drop"), type=list(TYPES), accept_multiple_files=True, key="insp_files")
    if st.toggle(ui.tr("inspect.use_camera"), key="insp_camera_on"):
        st.camera_input(ui.tr("inspect.camera"), key="insp_camera")
    n = len(_uploads())
    if n > MAX_PHOTOS:
        st.warning(ui.tr("inspect.too_many", n=n, limit=MAX_PHOTOS))
    st.button(
        ui.tr("inspect.go", n=min(n, MAX_PHOTOS)),
        key="insp_go",
        type="primary",
        icon=":material/search_check:",
        disabled=n == 0,
        on_click=ui.act,
        args=(_run, ws, name),
    )


def _verdict(inspection) -> None:
    verdict = inspection.current_verdict
    key = f"inspect.verdict.{verdict}"
    if verdict == "check" and inspection.alignment.ok and all(p.current_label for p in inspection.positions):
        key = "familiarity.verdict"  # judged everywhere, yet held back: a crop unlike the training photos
    text = ui.tr(key, id=inspection.id, name=ui.plain(inspection.photo_name))
    {"pass": st.success, "defect": st.error}.get(verdict, st.warning)(text, icon=STATE_ICON[verdict])
    align = inspection.alignment
    if not align.ok:
        st.warning(ui.tr("inspect.alignment.refused", reason=ui.plain(align.reason or "")), icon=":material/warning:")


def _positions(view) -> None:
    """Every position: crop, heatmap, verdict and probabilities, four to a row."""
    per_row = 4
    for row in range(0, len(view.positions), per_row):
        for col, pos in zip(st.columns(per_row), view.positions[row : row + per_row], strict=False):
            with col.container(border=True, key=f"insp_pos_{view.inspection_id}_{pos.name}"):
                colour = {"pass": "green", "defect": "red"}.get(pos.state, "orange")
                st.markdown(f"**{ui.plain(pos.name)}** · :{colour}[{ui.plain(pos.label)}]")
                pictures = [p for p in (pos.crop, pos.heatmap) if p is not None]
                if pictures:
                    st.image(pictures, width=110)
                st.caption(ui.plain(pos.probs) or "—")


def _send(ws: Workspace, me: auth.Actor, inspection_id: int, labelled: bool) -> None:
    found = inspection_dataset.to_dataset(ws, me, inspection_id, labelled)
    ui.flash_ok(ui.tr("inspect.sent", n=found.count("imported"), duplicates=found.count("duplicate")))


def _actions(ws: Workspace, me: auth.Actor, inspection) -> None:
    """The report (built when downloaded, and audited then), and the crops sent to the dataset."""
    cols = st.columns(3)
    lang = ui.lang()  # the callable runs when the button is pressed, outside this script run
    cols[0].download_button(
        ui.tr("inspect.report"),
        data=lambda: inspection_report.inspection_pdf(ws, me, inspection.id, lang),
        file_name=f"inspection-{inspection.id:06d}.pdf",
        mime="application/pdf",
        key=f"insp_report_{inspection.id}",
        icon=":material/picture_as_pdf:",
        on_click="ignore",
    )
    can = auth.can(me, "upload")
    for col, labelled in zip(cols[1:], (True, False), strict=True):
        col.button(
            ui.tr("inspect.to_dataset.labelled" if labelled else "inspect.to_dataset.review"),
            key=f"insp_send_{inspection.id}_{int(labelled)}",
            disabled=not can,
            icon=":material/add_photo_alternate:",
            on_click=ui.act,
            args=(_send, ws, inspection.id, labelled),
        )


def results(ws: Workspace, me: auth.Actor) -> None:
    """The inspections of the last batch: verdict, coloured boxes, positions, report; a manual fix when the
    alignment was not sure."""
    for name, reason in st.session_state.get(REFUSED, []):
        st.error(ui.tr("inspect.refused", name=ui.plain(name), reason=reason))
    for inspection_id in st.session_state.get(RESULTS, []):
        card(ws, me, inspection_id)


def card(ws: Workspace, me: auth.Actor, inspection_id: int) -> None:
    """One inspection: verdict, the photo with its coloured boxes, the positions, report and dataset buttons."""
    inspection = inspections.get_inspection(ws.conn, inspection_id)
    view = inspection_report.report_view(ws, inspection, ui.lang())
    with st.container(border=True, key=f"insp_card_{inspection_id}"):
        _verdict(inspection)
        st.image(report.boxes_drawn(view.photo, view.positions), width="stretch")
        st.caption(
            ui.tr(
                "inspect.meta",
                station=ui.plain(view.station),
                asset=ui.plain(view.asset) or "—",
                model=view.model,
                threshold="—" if view.threshold is None else f"{view.threshold:.3f}",
                alignment=view.alignment,
            )
        )
        if not inspection.alignment.ok or any(p.current_label is None for p in inspection.positions):
            inspect_fix.panel(ws, me, inspection)
        _positions(view)
        _actions(ws, me, inspection)
