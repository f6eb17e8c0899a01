"""Diagnose page: drop photos (or take one), get the verdict at the operating point and the Grad-CAM heatmap."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import auth
from core.errors import CoreError, NotFoundError, RejectedFile
from core.ml import diagnosis
from ui import components as ui
from ui.panels import diagnose as panels

ws = ui.workspace()
me = ui.actor()
names = ui.label_names(ws)

st.title(ui.tr("diagnose.title"))
ui.flash()


try:
    predictor = ui.predictor(ws)
except NotFoundError:
    st.info(ui.tr("diagnose.no_model"), icon=":material/info:")
    st.stop()
except CoreError as exc:
    ui.show_error(exc)
    st.stop()

st.caption(
    ui.tr(
        "diagnose.model",
        id=predictor.run.id,
        arch=predictor.run.arch,
        threshold=f"{predictor.threshold:.3f}" if predictor.threshold is not None else ui.tr("common.none"),
    )
)
settings = panels.controls(predictor, names)
files = st.file_uploader(ui.tr("diagnose.drop"), type=list(panels.TYPES), accept_multiple_files=True, key="diag_files")
photo = (
    st.camera_input(ui.tr("diagnose.camera"), key="diag_camera")
    if st.toggle(ui.tr("diagnose.use_camera"), key="diag_camera_on")
    else None
)
uploads = [(f.name, f.getvalue()) for f in files or []] + ([("camera.jpg", photo.getvalue())] if photo else [])
if not uploads:
    st.caption(ui.tr("diagnose.hint"))
    st.stop()

results = []
for name, data in uploads[: panels.MAX_PHOTOS]:
    cam = diagnosis.CamSettings(settings["method"], settings["target"]) if len(results) < panels.DETAILED else None
    try:
        found = panels.diagnosed(ws, predictor, name, data, settings["tta"], cam)
        results.append(diagnosis.restyle(found, settings["opacity"], settings["colormap"]))
    except RejectedFile as exc:
        reason = ui.tr(exc.reason_key, **ui.plain_values(exc.detail))
        st.error(ui.tr("diagnose.refused", name=ui.plain(name), reason=reason))
    except CoreError as exc:
        ui.show_error(exc)
if len(uploads) > panels.MAX_PHOTOS:
    st.warning(ui.tr("diagnose.too_many", n=len(uploads), limit=panels.MAX_PHOTOS))

if len(results) > 1:  # in the user's language, the CSV too; the JSON reports keep machine-readable keys
    rows = diagnosis.table(results, names, ui.lang())
    # open when some photos have no card; else the cards' banners come first on the screen
    with st.expander(
        ui.tr("diagnose.table", n=len(results)), icon=":material/table:", expanded=len(results) > panels.DETAILED
    ):
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="diag_table")
        st.download_button(
            ui.tr("diagnose.csv"),
            diagnosis.table_csv(rows),
            "diagnosis.csv",
            "text/csv",
            key="diag_csv",
            icon=":material/download:",
        )

for index, result in enumerate(results[: panels.DETAILED]):
    panels.result_card(ws, predictor, result, index, names, can_save=auth.can(me, "upload"))
