"""Panels of the Evaluate page that put a run to use: promotion to production, and the model exported (ONNX or
TorchScript) with its model card."""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from core import auth, config, evaluation, runs
from core.workspace import Workspace
from ui import components as ui


def promote(ws: Workspace, me: auth.Actor, run: runs.Run) -> None:
    production = runs.production_run_id(ws.conn)
    st.subheader(ui.tr("eval.promote"))
    if production == run.id:
        st.success(ui.tr("eval.promote.is_production"), icon=":material/verified:")
        return
    st.caption(ui.tr("eval.promote.current", id=production) if production else ui.tr("eval.promote.none"))
    if not auth.can(me, "promote"):
        return
    st.checkbox(ui.tr("eval.promote.force"), key=f"eval_force_{run.id}")
    st.button(
        ui.tr("eval.promote.button", id=run.id),
        key="eval_promote",
        type="primary",
        icon=":material/rocket_launch:",
        on_click=ui.act,
        args=(_promote, ws, run.id),
    )


def _promote(ws: Workspace, me: auth.Actor, run_id: int) -> None:
    """on_click of the promote button (it belongs to this run); a refusal is flashed above the page by ui.act."""
    force = bool(st.session_state.get(f"eval_force_{run_id}"))
    ui.flash_ok(_promoted_text(evaluation.promote(ws.conn, me, run_id, force=force)))


def _promoted_text(done: dict) -> str:
    text = ui.tr("eval.promote.done", id=done["run_id"])
    figures = done.get("figures")
    if figures:
        (new, old), (new_f1, old_f1) = figures["defect_recall"], figures["macro_f1"]
        none = ui.tr("common.none")
        text += " " + ui.tr(
            "eval.promote.figures",
            new=f"{new:.3f}" if new is not None else none,
            old=f"{old:.3f}" if old is not None else none,
            new_f1=f"{new_f1:.3f}",
            old_f1=f"{old_f1:.3f}",
            previous=done["previous_run_id"],
        )
    kept = done.get("comparison")  # photo by photo against the model it replaces (core.compare)
    if kept:
        text += " " + ui.tr("compare.promoted", fixed=len(kept["fixed"]), broken=len(kept["broken"]), same=kept["same"])
    if done["overridden"]:
        text += " " + ui.tr("eval.promote.forced")
    return text


def _export(ws: Workspace, me: auth.Actor, run_id: int) -> None:
    """on_click of the build button (it belongs to this run): the format the radio holds now; the file and its
    card are kept in the session, offered for download below the button."""
    from core.ml import export  # the torch tier, only when asked

    fmt = st.session_state.get("eval_export_fmt", config.EXPORT_FORMATS[0])
    with st.spinner(ui.tr("eval.export.building")):
        path, card = export.export_to_workspace(ws, me, run_id, fmt)
    st.session_state.setdefault("eval_exports", {})[(run_id, fmt)] = (str(path), card)


def export(ws: Workspace, me: auth.Actor, run: runs.Run) -> None:
    """ONNX / TorchScript of the run with its model card, checked against PyTorch, offered for download."""
    st.subheader(ui.tr("eval.export"))
    st.caption(ui.tr("eval.export.help"))
    if not auth.can(me, "export"):
        st.caption(ui.tr("eval.export.role", role=auth.ACTION_MIN_ROLE["export"]))
        return
    fmt = st.radio(
        ui.tr("eval.export.format"),
        list(config.EXPORT_FORMATS),
        horizontal=True,
        key="eval_export_fmt",
        format_func=lambda f: {"onnx": "ONNX", "torchscript": "TorchScript"}[f],
    )
    done = st.session_state.setdefault("eval_exports", {})
    st.button(
        ui.tr("eval.export.build"),
        key="eval_export_build",
        icon=":material/ios_share:",
        on_click=ui.act,
        args=(_export, ws, run.id),
    )
    if (run.id, fmt) not in done or not Path(done[(run.id, fmt)][0]).exists():
        return
    path, card = Path(done[(run.id, fmt)][0]), done[(run.id, fmt)][1]
    st.success(
        ui.tr(
            "eval.export.ready",
            file=path.name,
            diff=f"{card['check']['max_abs_diff']:.1e}",
            tolerance=f"{card['check']['tolerance']:g}",
        ),
        icon=":material/check_circle:",
    )
    left, right = st.columns(2)
    left.download_button(
        ui.tr("eval.export.model"),
        path.read_bytes,
        path.name,
        "application/octet-stream",
        key="eval_export_model",
        icon=":material/download:",
    )
    right.download_button(
        ui.tr("eval.export.card"),
        json.dumps(card, indent=2, ensure_ascii=False).encode(),
        path.name + ".card.json",
        "application/json",
        key="eval_export_card",
        icon=":material/download:",
    )
