"""The Evaluate page's operating point: a target defect recall (or a cost matrix) picks the threshold on
P(normal) on validation; its effect on the test split, and saving it for the run."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from core import auth, evaluation, intervals, metrics, plots, runs
from core.workspace import Workspace
from ui import components as ui


def operating_point(ws: Workspace, me: auth.Actor, run: runs.Run) -> None:
    """Target defect recall → threshold on P(normal) chosen on validation, its effect on the test split."""
    if evaluation.NORMAL not in run.class_names:
        return
    st.subheader(ui.tr("eval.op"))
    st.caption(ui.tr("eval.op.help"))
    stored = run.operating_point or {}
    target = st.slider(
        ui.tr("eval.op.target"),
        0.80,
        1.0,
        float(stored.get("target_recall") or metrics.DEFAULT_TARGET_RECALL),
        0.001,  # fine enough for 0.999, a target a plant may be asked for
        key=f"eval_target_{run.id}",
        format="%.3f",
    )
    costs = _cost_matrix(ws, run)
    point = evaluation.operating_point(ws.conn, run, target_recall=None if costs else target, costs=costs)
    if point is None:
        st.info(ui.tr("eval.op.no_val"))
        return
    effect = evaluation.operating_effect(ws.conn, run, point, "test")
    none = ui.tr("common.none")  # no test photo: no figure to show
    cols = st.columns(5)
    cols[0].metric(ui.tr("eval.op.threshold"), f"{point.threshold:.3f}")
    cols[1].metric(ui.tr("eval.op.val_recall"), f"{point.val_defect_recall:.3f}")
    cols[2].metric(ui.tr("eval.op.test_recall"), f"{effect.defect_recall:.3f}" if effect.n else none)
    cols[3].metric(ui.tr("eval.op.false_alarm"), f"{effect.false_alarm_rate:.3f}" if effect.n else none)
    cols[4].metric(ui.tr("eval.op.saved"), f"{stored['threshold']:.3f}" if stored else none)
    _intervals(ws, run, point)
    if effect.n:
        names = ui.label_names(ws)
        st.plotly_chart(
            plots.confusion_heatmap(
                effect.confusion_matrix,
                [names.get(c, c) for c in run.class_names],
                {"hover": ui.tr("eval.cm.hover"), "predicted": ui.tr("eval.predicted"), "given": ui.tr("eval.given")},
            ),
            key=f"eval_op_cm_{run.id}_{ui.lang()}",
            width="stretch",
        )
    if auth.can(me, "promote"):
        st.button(
            ui.tr("eval.op.save"), key="eval_op_save", icon=":material/save:", on_click=ui.act, args=(_save, ws, run.id)
        )


def _intervals(ws: Workspace, run: runs.Run, point: metrics.OperatingPoint) -> None:
    """Defect recall and false-alarm rate on validation and test, each with its 95% interval and its counts."""
    rates = intervals.point_rates(ws.conn, run, point)
    measures = (
        ("intervals.recall", "intervals.counts.recall", lambda s: s.defect_recall),
        ("intervals.false_alarm", "intervals.counts.false_alarm", lambda s: s.false_alarm_rate),
    )
    rows = [
        {
            ui.tr("intervals.col.measure"): ui.tr(name),
            ui.tr("intervals.col.split"): ui.tr(f"split.{split.split}"),
            ui.tr("intervals.col.value"): _rate(pick(split)),
            ui.tr("intervals.col.counts"): ui.tr(counts, k=pick(split).k, n=pick(split).n),
        }
        for name, counts, pick in measures
        for split in rates.splits
    ]
    ui.table(rows, key=f"eval_intervals_{run.id}_{ui.lang()}")
    st.caption(ui.tr("intervals.help", method=ui.tr(f"intervals.method.{intervals.SHOWN_METHOD}")))
    _too_few(rates)


def _too_few(rates: intervals.PointRates) -> None:
    """Say plainly when a split's defect photos cannot show the target even if every one were caught."""
    if rates.short and rates.needed is None:
        st.warning(ui.tr("intervals.never"), icon=":material/warning:")
    elif rates.short:
        short = "; ".join(
            ui.tr(
                "intervals.too_few.split",
                split=ui.tr(f"split.{s.split}"),
                n=s.defect_recall.n,
                best=_below(s.best_low, rates.target),
            )
            if s.defect_recall.n
            else ui.tr("intervals.too_few.none", split=ui.tr(f"split.{s.split}"))
            for s in rates.short
        )
        target = f"{rates.target:.6g}"  # 0.99, 0.999: as the target was set
        st.warning(
            ui.tr("intervals.too_few", target=target, splits=short[:1].upper() + short[1:], needed=f"{rates.needed:,}"),
            icon=":material/warning:",
        )


def _below(best: float | None, target: float) -> str:
    """The best lower bound with the decimals (3 to 6) it takes not to read as the target it falls short of."""
    for digits in range(3, 7):
        if f"{best:.{digits}f}" != f"{target:.{digits}f}":
            break
    return f"{best:.{digits}f}"


def _rate(interval: intervals.Interval) -> str:
    """ "0.962 (0.870–0.993)"; no photo: a dash."""
    if interval.value is None:
        return ui.tr("common.none")
    return f"{ui.fmt(interval.value)} ({ui.fmt(interval.low)}–{ui.fmt(interval.high)})"


def _save(ws: Workspace, me: auth.Actor, run_id: int) -> None:
    """on_click of the save button (it belongs to this run): the target and costs as the widgets hold them now."""
    run = runs.get_run(ws.conn, run_id)
    costs = _costs_now(ws, run)
    target = None if costs else st.session_state.get(f"eval_target_{run_id}")
    point = evaluation.store_operating_point(ws.conn, me, run_id, target_recall=target, costs=costs)
    ui.flash_ok(ui.tr("eval.op.stored", threshold=f"{point.threshold:.3f}", id=run_id))


def _shown(ws: Workspace, run: runs.Run) -> list[str]:
    names = ui.label_names(ws)
    return [names.get(c, c) for c in run.class_names]


def _default_costs(run: runs.Run) -> list[list[float]]:
    """costs[given][called]; a missed defect (called normal) starts at 50 false alarms' worth."""
    normal, n = run.class_names.index(evaluation.NORMAL), len(run.class_names)
    return [[0.0 if g == c else (50.0 if c == normal else 1.0) for c in range(n)] for g in range(n)]


def _cost_matrix(ws: Workspace, run: runs.Run) -> list[list[float]] | None:
    """Optional costs[given][called], edited in a table; None unless the toggle is on."""
    with st.expander(ui.tr("eval.op.costs"), icon=":material/balance:"):
        use = st.toggle(ui.tr("eval.op.costs.use"), key=f"eval_costs_on_{run.id}")
        shown = _shown(ws, run)
        st.data_editor(
            pd.DataFrame(_default_costs(run), index=shown, columns=shown), key=f"eval_costs_{run.id}", disabled=not use
        )
        st.caption(ui.tr("eval.op.costs.help"))
    return _costs_now(ws, run)


def _costs_now(ws: Workspace, run: runs.Run) -> list[list[float]] | None:
    """The cost matrix as the toggle and the table's edits (kept in the session by the table's key) hold it:
    what the page shows and what the save button's callback stores come from this one place."""
    if not st.session_state.get(f"eval_costs_on_{run.id}"):
        return None
    costs, shown = _default_costs(run), _shown(ws, run)
    edits = (st.session_state.get(f"eval_costs_{run.id}") or {}).get("edited_rows", {})
    for row, changes in edits.items():
        for column, value in changes.items():
            if column in shown and 0 <= int(row) < len(costs):
                costs[int(row)][shown.index(column)] = math.nan if value is None else float(value)
    return costs
