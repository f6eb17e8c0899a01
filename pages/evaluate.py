"""Evaluate page: a run's figures, confusion matrix with its photos, operating point, curves, comparison."""

from __future__ import annotations

import streamlit as st

from core import evaluation, runs
from core.errors import CoreError
from ui import components as ui
from ui.panels import evaluate as panels
from ui.panels import evaluate_compare, evaluate_flips, evaluate_op, evaluate_release

ws = ui.workspace()
me = ui.actor()

st.title(ui.tr("eval.title"))
ui.flash()

finished = [run for run in runs.list_runs(ws.conn) if run.finished]
if not finished:
    st.info(ui.tr("eval.none"))
    st.stop()

# the comparisons run only when their tab is open
tab_run, tab_compare, tab_flips = st.tabs(
    [ui.tr("eval.tab.run"), ui.tr("eval.tab.compare"), ui.tr("compare.tab")], key="eval_tab", on_change="rerun"
)
with tab_run:
    try:
        run = panels.run_picker(finished)
        split = ui.choice(
            st,
            ui.tr("eval.split"),
            ["test", "val"],
            "eval_split",
            lambda s: ui.tr(f"split.{s}"),
            widget="radio",
            horizontal=True,
        )
        result = evaluation.summarize_run(ws.conn, run.id, split)
        if not result["n"]:
            st.warning(ui.tr("eval.empty_split", split=ui.tr(f"split.{split}")))
        else:
            panels.metric_cards(ws, split, result)
            panels.heatmap_metric(ws, run)
            panels.confusion(ws, me, run, split, result)
            evaluate_op.operating_point(ws, me, run)
            panels.curves(ws, run, split)
        evaluate_release.promote(ws, me, run)
        evaluate_release.export(ws, me, run)
    except CoreError as exc:
        ui.show_error(exc)

if tab_compare.open:
    with tab_compare:
        try:
            evaluate_compare.compare(ws)
        except CoreError as exc:
            ui.show_error(exc)

if tab_flips.open:
    with tab_flips:
        try:
            evaluate_flips.flips(ws)
        except CoreError as exc:
            ui.show_error(exc)
