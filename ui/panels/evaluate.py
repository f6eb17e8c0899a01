"""Panels of the Evaluate page: run picker, figures, clickable confusion matrix, curves (the operating point is
in evaluate_op, promotion and export in evaluate_release, the run comparison in evaluate_compare)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import auth, evaluation, plots, runs, store
from core.workspace import Workspace
from ui import components as ui


def _run_label(run: runs.Run) -> str:
    f1 = f"{run.test_macro_f1:.3f}" if run.test_macro_f1 is not None else ui.tr("common.none")
    return ui.tr(
        "eval.run_option",
        id=run.id,
        arch=run.arch,
        kind=ui.tr(f"train.kind.{run.kind}"),
        f1=f1,
        at=ui.local_time(run.finished_at),
    )


def run_picker(finished: list[runs.Run]) -> runs.Run:
    """The newest finished run unless the user picks another; a new run gives a new box starting on it."""
    by_id = {run.id: run for run in finished}
    ids = list(by_id)
    # option texts made now, in this run's language (a format_func called later would not know it)
    texts = {run_id: _run_label(run) for run_id, run in by_id.items()}
    pick = st.selectbox(ui.tr("eval.run"), ids, key=f"eval_run_{ui.lang()}_{ids[0]}", format_func=texts.__getitem__)
    return by_id[pick]


def metric_cards(ws: Workspace, split: str, result: dict) -> None:
    """The split's figures; a note names the classes with no photo there (the averages leave them out)."""
    figures = [
        ("eval.m.accuracy", result["accuracy"]),
        ("eval.m.macro_f1", result["macro_f1"]),
        ("eval.m.micro_f1", result["micro_f1"]),
        ("eval.m.weighted_f1", result["weighted_f1"]),
        ("eval.m.top2", result["top2_accuracy"]),
        ("eval.m.n", result["n"]),
    ]
    for col, (key, value) in zip(st.columns(len(figures)), figures, strict=True):
        col.metric(ui.tr(key), f"{value:.3f}" if isinstance(value, float) else f"{value:,}")
    if result["absent"]:
        names = ui.label_names(ws)
        st.info(
            ui.tr(
                "eval.absent",
                split=ui.tr(f"split.{split}"),
                absent=", ".join(ui.plain(names.get(c, c)) for c in result["absent"]),
                averaged=", ".join(ui.plain(names.get(c, c)) for c in result["averaged"]),
            ),
            icon=":material/info:",
        )


def confusion(ws: Workspace, me: auth.Actor, run: runs.Run, split: str, result: dict) -> None:
    """Heatmap (counts or row shares) and per-class table; a clicked cell lists its photos underneath."""
    names = ui.label_names(ws)
    shown = [names.get(c, c) for c in run.class_names]
    left, right = st.columns([3, 2])
    with left:
        st.subheader(ui.tr("eval.cm"))
        normalise = st.toggle(ui.tr("eval.cm.normalise"), key="eval_normalise")
        fig = plots.confusion_heatmap(
            result["confusion_matrix"],
            shown,
            {"hover": ui.tr("eval.cm.hover"), "predicted": ui.tr("eval.predicted"), "given": ui.tr("eval.given")},
            normalise,
        )
        event = st.plotly_chart(
            fig,
            on_select="rerun",
            selection_mode="points",
            width="stretch",
            key=f"eval_cm_{run.id}_{split}_{ui.lang()}",
        )
    with right:
        st.subheader(ui.tr("eval.per_class"))
        table = pd.DataFrame(
            [
                {
                    ui.tr("eval.col.class"): names.get(c, c),
                    ui.tr("eval.col.precision"): v["precision"],
                    ui.tr("eval.col.recall"): v["recall"],
                    ui.tr("eval.col.f1"): v["f1"],
                    ui.tr("eval.col.support"): v["support"],
                }
                for c, v in result["per_class"].items()
            ]
        )
        figures = [ui.tr("eval.col.precision"), ui.tr("eval.col.recall"), ui.tr("eval.col.f1")]
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={c: st.column_config.NumberColumn(format="%.3f") for c in figures},
        )
        st.caption(ui.tr("eval.cm.help"))
    points = event.selection.points if event and event.selection else []
    if points:
        back = dict(zip(shown, run.class_names, strict=True))
        cell_panel(ws, me, run, split, back[points[0]["y"]], back[points[0]["x"]])


def _probs_text(ws: Workspace, run: runs.Run, probs: list[float]) -> str:
    names = ui.label_names(ws)
    return " · ".join(f"{ui.plain(names.get(c, c))} {p:.2f}" for c, p in zip(run.class_names, probs, strict=True))


def cell_panel(ws: Workspace, me: auth.Actor, run: runs.Run, split: str, given: str, predicted: str) -> None:
    """Exactly the photos of one cell, each with given and predicted label, probabilities and relabel buttons."""
    names = {name: ui.plain(text) for name, text in ui.label_names(ws).items()}  # markdown-safe
    photos = evaluation.cell_photos(ws.conn, run.id, split, given, predicted)
    with st.container(border=True, key="eval_cell"):
        st.markdown(
            "##### "
            + ui.tr(
                "eval.cell", given=names.get(given, given), predicted=names.get(predicted, predicted), n=len(photos)
            )
        )
        grid = st.columns(3)  # three across: room for a whole label on each relabel button
        for index, row in enumerate(photos[:48]):
            image = store.get_image(ws.conn, row["image_id"])
            with grid[index % 3], st.container(border=True, key=f"cell_photo_{image.id}"):
                st.image(ui.picture(ws, image), width="stretch")
                st.caption(
                    f"#{image.id} · {ui.tr('eval.given')}: **{names.get(given, given)}** · "
                    f"{ui.tr('eval.predicted')}: **{names.get(predicted, predicted)}**"
                )
                st.caption(_probs_text(ws, run, row["probs"]))
                if image.label != given:
                    st.caption(":material/edit: " + ui.tr("eval.now", label=ui.label_md(ws, image.label)))
                if auth.can(me, "relabel"):
                    _relabel_buttons(ws, me, image, names)


def _relabel_buttons(ws: Workspace, me: auth.Actor, image: store.Image, names: dict[str, str]) -> None:
    cols = st.columns(len(names))
    for col, (name, text) in zip(cols, names.items(), strict=True):
        col.button(
            text,
            key=f"cell_{image.id}_{name}",
            type="primary" if image.label == name else "secondary",
            width="stretch",
            on_click=ui.act,
            args=(_relabel, ws, image.id, name),
        )


def _relabel(ws: Workspace, me: auth.Actor, image_id: int, label: str) -> None:
    store.relabel(ws.conn, me, [image_id], label, "review")
    ui.flash_ok(ui.tr("eval.relabelled", id=image_id, label=ui.label_md(ws, label)))


def curves(ws: Workspace, run: runs.Run, split: str) -> None:
    data = evaluation.curve_data(ws.conn, run.id, split)
    left, right = st.columns(2)
    with left:
        st.subheader(ui.tr("eval.pr"))
        names = ui.label_names(ws)
        shown = {names.get(label, label): curve for label, curve in data["pr"].items()}
        st.plotly_chart(
            plots.pr_figure(shown, {"precision": ui.tr("eval.col.precision"), "recall": ui.tr("eval.col.recall")}),
            key=f"eval_pr_{run.id}_{split}",
            width="stretch",
        )
    with right:
        st.subheader(ui.tr("eval.reliability", ece=f"{data['reliability']['ece']:.3f}"))
        before = data["uncalibrated"]
        if before is not None:
            st.caption(
                ui.tr("calibration.caption", t=f"{data['temperature']:.3f}", before=f"{before['ece']:.3f}",
                      after=f"{data['reliability']['ece']:.3f}")
            )  # fmt: skip
        st.plotly_chart(
            plots.reliability_figure(
                data["reliability"],
                {
                    "ideal": ui.tr("eval.rel.ideal"),
                    "model": ui.tr("calibration.after") if before is not None else ui.tr("eval.rel.model"),
                    "before": ui.tr("calibration.before"),
                    "accuracy": ui.tr("eval.m.accuracy"),
                    "confidence": ui.tr("eval.rel.confidence"),
                },
                before,
            ),
            key=f"eval_rel_{run.id}_{split}",
            width="stretch",
        )
    history = [vars(e) for e in runs.epochs(ws.conn, run.id)]
    if run.config.trains_a_model and history:
        st.subheader(ui.tr("eval.learning"))
        names = {
            k: ui.tr(f"train.curve.{k}")
            for k in ("train", "val", "loss", "epoch", "train_acc", "val_acc", "train_f1", "val_f1", "score")
        }
        left, right = st.columns(2)
        left.plotly_chart(plots.loss_curves(history, names), key=f"eval_loss_{run.id}", width="stretch")
        right.plotly_chart(plots.score_curves(history, names), key=f"eval_score_{run.id}", width="stretch")


def heatmap_metric(ws: Workspace, run: runs.Run) -> None:
    """Do the run's heatmaps point at the bolt? Its kept heatmap check (measured when training ended, or by
    `evaluate RUN --json`); the page never measures it, a minute of Grad-CAM and ROAD on a CPU."""
    from core.ml import heatmap_check  # the torch tier, only where the figure is shown

    check = heatmap_check.stored(ws, run.id)
    if check is None:
        st.caption(ui.tr("heatmap.pending", run=run.id))
        return
    help_text = ui.tr("heatmap.metric.help", photos=check.photos, uniform=heatmap_check.CENTRE_AREA, road=check.road)
    st.metric(ui.tr("heatmap.metric"), f"{check.centre_share:.2f}", help=help_text)
    if check.uniform:
        uniform_warning(check.centre_share)


def uniform_warning(share: float) -> None:
    """The heatmaps are no better than a uniform map: said on Evaluate, Diagnose and Review alike."""
    from core.ml import heatmap_check

    st.warning(
        ui.tr("heatmap.uniform", share=share, uniform=heatmap_check.CENTRE_AREA), icon=":material/center_focus_weak:"
    )
