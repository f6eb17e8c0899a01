"""Panels of the Diagnose page: Grad-CAM controls and one result card (verdict, bars, overlay, save, downloads)."""

from __future__ import annotations

import hashlib

import plotly.graph_objects as go
import streamlit as st

from core import auth, diagnosis, explain, imaging, predict
from core.errors import CoreError
from core.workspace import Workspace
from pages import components as ui

TYPES = tuple(ext.lstrip(".") for ext in imaging.ACCEPTED_EXTS)
MAX_PHOTOS = 200  # per drop; the table covers them all
DETAILED = 12  # photos shown with Grad-CAM; the rest are in the table
VERDICT_COLOURS = {"normal": "green"}
METHOD_NAMES = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "hirescam": "HiResCAM", "scorecam": "Score-CAM",
                "eigencam": "Eigen-CAM", "layercam": "LayerCAM", "xgradcam": "XGrad-CAM"}


@st.cache_resource(show_spinner=False, max_entries=24, ttl=3600)
def _diagnosed(_ws: Workspace, _predictor: predict.Predictor, model: str, name: str, sha256: str, _data: bytes,
               tta: bool, cam: diagnosis.CamSettings | None) -> diagnosis.Diagnosis:
    return diagnosis.diagnose(_ws, _predictor, name, _data, tta, cam)


def diagnosed(ws: Workspace, predictor: predict.Predictor, name: str, data: bytes, tta: bool,
              cam: diagnosis.CamSettings | None) -> diagnosis.Diagnosis:
    """A diagnosis computed once per photo, model and CAM choice; moving the opacity or colour map only
    blends the heatmap anew (diagnosis.restyle), it does not run the model again."""
    model = f"{predictor.run.id}:{predictor.threshold}"
    return _diagnosed(ws, predictor, model, name, hashlib.sha256(data).hexdigest(), data, tta, cam)


def controls(predictor: predict.Predictor, names: dict[str, str]) -> dict[str, object]:
    with st.expander(ui.tr("diagnose.controls"), icon=":material/tune:", expanded=True):
        cols = st.columns([2, 2, 2, 2, 3], vertical_alignment="bottom")
        method = cols[0].selectbox(ui.tr("diagnose.method"), list(explain.METHODS), key="diag_method",
                                   format_func=METHOD_NAMES.get)
        targets = [None, *range(len(predictor.class_names))]
        target = ui.choice(cols[1], ui.tr("diagnose.target"), targets, "diag_target",
                           lambda t: ui.tr("diagnose.target.predicted") if t is None else
                           names.get(predictor.class_names[t], predictor.class_names[t]))
        opacity = cols[2].slider(ui.tr("diagnose.opacity"), 0.0, 1.0, 0.45, 0.05, key="diag_opacity")
        colormap = cols[3].selectbox(ui.tr("diagnose.colormap"), list(explain.COLORMAPS), key="diag_colormap")
        tta = cols[4].checkbox(ui.tr("diagnose.tta"), key="diag_tta", help=ui.tr("diagnose.tta.help"))
    return {"method": method, "target": target, "opacity": opacity, "colormap": colormap, "tta": tta}


def _bars(result: predict.Prediction, names: dict[str, str], threshold: float | None) -> go.Figure:
    labels = [names.get(c, c) for c in result.probs]
    fig = go.Figure(go.Bar(x=list(result.probs.values()), y=labels, orientation="h",
                           marker_color=["#2da44e" if c == "normal" else "#cf222e" for c in result.probs],
                           text=[f"{p:.1%}" for p in result.probs.values()], textposition="auto"))
    if threshold is not None and "normal" in result.probs:
        fig.add_vline(x=threshold, line_dash="dot", line_color="#57606a")
    fig.update_layout(height=40 + 34 * len(labels), margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(range=[0, 1]))
    return fig


def result_card(ws: Workspace, me: auth.Actor, predictor: predict.Predictor, result: diagnosis.Diagnosis,
                index: int, names: dict[str, str], can_save: bool) -> None:
    """Verdict at the operating point, probabilities, original and overlay side by side, save, downloads."""
    verdict = names.get(result.result.label, result.result.label)
    colour = VERDICT_COLOURS.get(result.result.label, "red")
    with st.container(border=True, key=f"diag_card_{index}"):
        st.markdown(f"#### {result.name} · :{colour}-badge[{verdict}]")
        if result.issues:
            st.warning(ui.tr("diagnose.unfit", issues=", ".join(ui.tr(f"diagnose.issue.{i}") for i in result.issues)),
                       icon=":material/warning:")
        if result.result.defect and result.result.top == "normal":
            st.error(ui.tr("diagnose.flagged", threshold=f"{predictor.threshold:.3f}"), icon=":material/flag:")
        left, mid, right = st.columns([2, 2, 2])
        left.image(result.image, caption=ui.tr("diagnose.original", w=result.width, h=result.height),
                   width="stretch")
        if result.cam is not None:
            mid.image(result.cam.overlay, caption=ui.tr("diagnose.overlay", method=METHOD_NAMES[result.cam.method],
                                                        target=names.get(result.cam.target, result.cam.target)),
                      width="stretch")
        with right:
            st.plotly_chart(_bars(result.result, names, predictor.threshold), key=f"diag_bars_{index}",
                            width="stretch")
            st.caption(ui.tr("diagnose.ms", ms=f"{result.result.ms:.0f}"))
            st.download_button(ui.tr("diagnose.png"), result.overlay_png(), f"{index:02d}-overlay.png", "image/png",
                               key=f"diag_png_{index}", icon=":material/download:")
            st.download_button(ui.tr("diagnose.json"), result.report_json(), f"{index:02d}-report.json",
                               "application/json", key=f"diag_json_{index}", icon=":material/download:")
            if can_save:
                _save(ws, me, result, index, names)


def _save(ws: Workspace, me: auth.Actor, result: diagnosis.Diagnosis, index: int, names: dict[str, str]) -> None:
    with st.popover(ui.tr("diagnose.wrong"), icon=":material/edit:"):
        label = st.radio(ui.tr("diagnose.right_label"), list(names), format_func=lambda n: names[n],
                         key=f"diag_label_{index}_{ui.lang()}")
        if st.button(ui.tr("diagnose.save"), key=f"diag_save_{index}", type="primary"):
            try:
                report = diagnosis.save_with_label(ws, me, result, label)
                st.session_state.flash = ("ok", ui.tr("diagnose.saved", name=result.name, label=names[label],
                                                      imported=report.count("imported")))
            except CoreError as exc:
                st.session_state.flash = ("error", ui.tr("common.error", message=str(exc)))
            st.rerun()
