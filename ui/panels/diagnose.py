"""Panels of the Diagnose page: Grad-CAM controls and one result card (banner, bars, overlay, save, downloads)."""

from __future__ import annotations

import hashlib

import streamlit as st

from core import auth, evaluation, imaging, plots
from core.ml import diagnosis, explain, predict
from core.workspace import Workspace
from ui import components as ui

TYPES = tuple(ext.lstrip(".") for ext in imaging.ACCEPTED_EXTS)
MAX_PHOTOS = 200  # per drop; the table covers them all
DETAILED = 12  # photos shown with Grad-CAM; the rest are in the table
VERDICT_COLOURS = {evaluation.NORMAL: "green"}  # every defect class: red
# the banner reads without colour: its own icon and word for each verdict
BANNERS = {
    "pass": (st.success, ":material/check_circle:"),
    "defect": (st.error, ":material/dangerous:"),
    "check": (st.warning, ":material/photo_camera:"),
}


@st.cache_resource(show_spinner=False, max_entries=24, ttl=3600)
def _diagnosed(
    _ws: Workspace,
    _predictor: predict.Predictor,
    model: str,
    name: str,
    sha256: str,
    _data: bytes,
    tta: bool,
    cam: diagnosis.CamSettings | None,
) -> diagnosis.Diagnosis:
    return diagnosis.diagnose(_ws, _predictor, name, _data, tta, cam)


def diagnosed(
    ws: Workspace, predictor: predict.Predictor, name: str, data: bytes, tta: bool, cam: diagnosis.CamSettings | None
) -> diagnosis.Diagnosis:
    """A diagnosis computed once per photo, model and CAM choice; moving the opacity or colour map only
    blends the heatmap anew (diagnosis.restyle), it does not run the model again."""
    model = f"{predictor.run.id}:{predictor.threshold}:{predictor.cut}:{id(predictor)}"  # a reload is another model
    return _diagnosed(ws, predictor, model, name, hashlib.sha256(data).hexdigest(), data, tta, cam)


def heatmap_warning(predictor: predict.Predictor) -> None:
    """Warn when the model's kept heatmap check says its heatmaps are no better than a uniform map."""
    from core.ml import heatmap_check
    from ui.panels import evaluate as evaluate_panels

    check = heatmap_check.stored(ui.workspace(), predictor.run.id)
    if check is not None and check.uniform:
        evaluate_panels.uniform_warning(check.centre_share)


def controls(predictor: predict.Predictor, names: dict[str, str]) -> dict[str, object]:
    heatmap_warning(predictor)
    with st.expander(ui.tr("diagnose.controls"), icon=":material/tune:", expanded=True):
        cols = st.columns([2, 2, 2, 2, 3], vertical_alignment="bottom")
        method = cols[0].selectbox(
            ui.tr("diagnose.method"), list(explain.METHODS), key="diag_method", format_func=explain.NAMES.get
        )
        targets = [None, *range(len(predictor.class_names))]
        target = ui.choice(
            cols[1],
            ui.tr("diagnose.target"),
            targets,
            "diag_target",
            lambda t: (
                ui.tr("diagnose.target.predicted")
                if t is None
                else names.get(predictor.class_names[t], predictor.class_names[t])
            ),
        )
        opacity = cols[2].slider(ui.tr("diagnose.opacity"), 0.0, 1.0, 0.45, 0.05, key="diag_opacity")
        colormap = cols[3].selectbox(ui.tr("diagnose.colormap"), list(explain.COLORMAPS), key="diag_colormap")
        tta = cols[4].checkbox(ui.tr("diagnose.tta"), key="diag_tta", help=ui.tr("diagnose.tta.help"))
    return {"method": method, "target": target, "opacity": opacity, "colormap": colormap, "tta": tta}


def _issues(found: diagnosis.Diagnosis) -> str:
    return ", ".join(ui.tr(f"diagnose.issue.{i}") for i in found.issues)


def banner(found: diagnosis.Diagnosis, predictor: predict.Predictor, names: dict[str, str], index: int) -> None:
    """The large PASS / DEFECT / CHECK PHOTO line: colour, icon and word, then why."""
    verdict, result = found.verdict, found.result
    label = ui.plain(names.get(result.label, result.label))
    if verdict == "check" and not found.issues:  # judged, yet unlike anything the model was trained on
        pct = result.familiarity.percentile if result.familiarity else 100.0
        detail = ui.tr("familiarity.diagnose", percentile=f"{pct:.1f}", cut=f"{predictor.cut:g}")
    elif verdict == "check":
        detail = ui.tr("diagnose.banner.check.detail", issues=_issues(found), label=label)
    elif predictor.threshold is None or evaluation.NORMAL not in result.probs:
        detail = label
    else:
        detail = ui.tr(
            f"diagnose.banner.{verdict}.detail",
            label=label,
            p=f"{result.probs['normal']:.3f}",
            threshold=f"{predictor.threshold:.3f}",
        )
    show, icon = BANNERS[verdict]
    with st.container(key=f"diag_banner_{index}"):
        show(f"### {ui.tr(f'diagnose.banner.{verdict}')}\n\n{detail}", icon=icon)


def result_card(
    ws: Workspace,
    predictor: predict.Predictor,
    result: diagnosis.Diagnosis,
    index: int,
    names: dict[str, str],
    can_save: bool,
) -> None:
    """Banner, probabilities, original and overlay side by side, save, downloads."""
    verdict = ui.plain(names.get(result.result.label, result.result.label))
    colour = "orange" if result.verdict == "check" else VERDICT_COLOURS.get(result.result.label, "red")
    with st.container(border=True, key=f"diag_card_{index}"):
        st.markdown(f"#### {ui.plain(result.name)} · :{colour}-badge[{verdict}]")
        banner(result, predictor, names, index)
        if result.result.defect and result.result.top == evaluation.NORMAL:
            st.error(ui.tr("diagnose.flagged", threshold=f"{predictor.threshold:.3f}"), icon=":material/flag:")
        left, mid, right = st.columns([2, 2, 2])
        left.image(result.image, caption=ui.tr("diagnose.original", w=result.width, h=result.height), width="stretch")
        if result.cam is not None:
            target = ui.plain(names.get(result.cam.target, result.cam.target))
            mid.image(
                result.cam.overlay,
                caption=ui.tr("diagnose.overlay", method=explain.NAMES[result.cam.method], target=target),
                width="stretch",
            )
        with right:
            bars = plots.probability_bars(
                result.result.probs,
                names,
                evaluation.NORMAL,
                predictor.threshold,
                {"operating_point": ui.tr("diagnose.operating_point")},
            )
            st.plotly_chart(bars, key=f"diag_bars_{index}", width="stretch")
            st.caption(
                ui.tr("diagnose.ms", timed=diagnosis.timed_text(result.timed, ui.lang()), ms=f"{result.result.ms:.0f}")
            )
            familiar = result.result.familiarity
            st.caption(
                ui.tr("familiarity.metric")
                + ": "
                + (f"{familiar.percentile:.1f}" if familiar else ui.tr("familiarity.unknown")),
                help=ui.tr("familiarity.metric.help", cut=f"{predictor.cut:g}"),
            )
            st.download_button(
                ui.tr("diagnose.png"),
                result.overlay_png(),
                f"{index:02d}-overlay.png",
                "image/png",
                key=f"diag_png_{index}",
                icon=":material/download:",
            )
            st.download_button(
                ui.tr("diagnose.json"),
                result.report_json(),
                f"{index:02d}-report.json",
                "application/json",
                key=f"diag_json_{index}",
                icon=":material/download:",
            )
            if can_save:
                if result.result.unfamiliar:
                    send_button(ws, predictor, result)
                save_form(ws, result, names)


def save_form(ws: Workspace, found: diagnosis.Diagnosis, names: dict[str, str]) -> None:
    """'Wrong? Save with the right label': no label is chosen for the user, an unfit photo is called out, and
    the outcome is shown under the button (keys follow the photo's content, never its place in the drop)."""
    key = f"diag_save_{found.sha256[:16]}"
    with st.popover(ui.tr("diagnose.wrong"), icon=":material/edit:"):
        if found.issues:
            st.warning(ui.tr("diagnose.save_unfit", issues=_issues(found)), icon=":material/warning:")
        label = st.radio(
            ui.tr("diagnose.right_label"),
            list(names),
            index=None,
            format_func=lambda n: ui.plain(names[n]),
            key=f"{key}_label_{ui.lang()}",
        )
        if label is None:
            st.caption(ui.tr("diagnose.save_pick"))
        st.button(
            ui.tr("diagnose.save"),
            key=key,
            type="primary",
            disabled=label is None,
            on_click=ui.act,
            args=(_save, ws, found),
        )
    done = st.session_state.get(f"{key}_done")
    if done:
        kind, text = done
        {"ok": st.success, "warn": st.warning, "error": st.error}[kind](text)


def _save(ws: Workspace, me: auth.Actor, found: diagnosis.Diagnosis) -> None:
    """on_click of the save button (it belongs to this photo): the label the radio holds now. The outcome is
    kept for the line under the button; an error of core (a refusal) is flashed by ui.act."""
    key = f"diag_save_{found.sha256[:16]}"
    st.session_state.pop(f"{key}_done", None)  # a refusal must not leave an earlier outcome standing
    names = ui.label_names(ws)
    label = st.session_state.get(f"{key}_label_{ui.lang()}")
    outcome = diagnosis.save_with_label(ws, me, found, label).outcomes[0]
    if outcome.status == "imported":
        done = "ok", ui.tr("diagnose.saved", name=ui.plain(found.name), label=ui.plain(names.get(label, label)))
    elif outcome.status == "duplicate" and outcome.image_id is not None:
        done = "warn", ui.tr("diagnose.save_duplicate", name=ui.plain(found.name), id=outcome.image_id)
    else:
        reason = ui.tr(outcome.key, **ui.plain_values(outcome.detail)) if outcome.key else ui.plain(outcome.message)
        done = "error", ui.tr("diagnose.refused", name=ui.plain(found.name), reason=reason)
    st.session_state[f"{key}_done"] = done


def send_button(ws: Workspace, predictor: predict.Predictor, found: diagnosis.Diagnosis) -> None:
    """'Send to Review' for a photo unlike anything the model was trained on; the outcome stays under it."""
    key = f"diag_review_{found.sha256[:16]}"
    st.button(
        ui.tr("diagnose.to_review"),
        key=key,
        icon=":material/rate_review:",
        help=ui.tr("diagnose.to_review.help"),
        on_click=ui.act,
        args=(_send, ws, found, predictor.run.id),
    )
    done = st.session_state.get(f"{key}_done")
    if done:
        {"ok": st.success, "error": st.error}[done[0]](done[1])


def _send(ws: Workspace, me: auth.Actor, found: diagnosis.Diagnosis, run_id: int) -> None:
    key = f"diag_review_{found.sha256[:16]}"
    st.session_state.pop(f"{key}_done", None)
    outcome = diagnosis.send_to_review(ws, me, found, run_id)
    if outcome.image_id is not None:
        done = "ok", ui.tr("diagnose.sent", name=ui.plain(found.name), id=outcome.image_id)
    else:
        reason = ui.tr(outcome.key, **ui.plain_values(outcome.detail)) if outcome.key else ui.plain(outcome.message)
        done = "error", ui.tr("diagnose.refused", name=ui.plain(found.name), reason=reason)
    st.session_state[f"{key}_done"] = done
