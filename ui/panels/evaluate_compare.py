"""The Evaluate page's run comparison: the safety columns first, rounded figures, two runs side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import evaluation, plots
from core.workspace import Workspace
from ui import components as ui

# (compare_runs key, header text key, printf format of a figure). The selection table: the safety figures
# first, then what a run costs; how each run was trained goes in a second table, so that neither scrolls
# sideways at 1440 px. Rounded as the house rounds: scores 3 decimals, ms 0, GFLOPs 2.
SELECTION = (
    ("run_id", "eval.c.run", "#%d"),
    ("defect_recall", "eval.c.defect_recall", "%.3f"),
    ("macro_f1", "eval.c.macro_f1", "%.3f"),
    ("cpu_ms", "eval.c.cpu_ms", "%.0f"),
    ("accuracy", "eval.c.accuracy", "%.3f"),
    ("production", "eval.c.production", None),
    ("arch", "eval.c.arch", None),
    ("kind", "eval.c.kind", None),
    ("pretrained", "eval.c.pretrained", None),
    ("gflops", "eval.c.gflops", "%.2f"),
)
TRAINING = (
    ("run_id", "eval.c.run", "#%d"),
    ("arch", "eval.c.arch", None),
    ("params_m", "eval.c.params", "%.1f"),
    ("image_size", "eval.c.size", "%d"),
    ("epochs", "eval.c.epochs", "%d"),
    ("train_s", "eval.c.train_s", "%.0f"),
    ("images_per_s", "eval.c.speed", "%.0f"),
)
HELP = {"defect_recall": "eval.c.help.defect_recall", "cpu_ms": "eval.c.help.cpu_ms", "gflops": "eval.c.help.gflops"}


def compare_table(rows: list[dict[str, object]], columns: tuple) -> tuple[pd.DataFrame, dict[str, object]]:
    """Rows as a frame with translated headers, and its column config: figures rounded in display only (they
    stay numbers, so they sort as numbers)."""
    headers = {key: ui.tr(text) for key, text, _ in columns}
    yes = ui.tr("eval.c.yes")
    shown = []
    for row in rows:
        values = dict(
            row,
            kind=ui.tr(f"train.kind.{row['kind']}"),
            production=yes if row["production"] else "",
            pretrained=yes if row["pretrained"] else "",
        )
        shown.append({headers[key]: values[key] for key, _, _ in columns})
    config = {}
    for key, _, fmt in columns:
        tip = ui.tr(HELP[key]) if key in HELP else None
        config[headers[key]] = (
            st.column_config.NumberColumn(format=fmt, help=tip) if fmt else st.column_config.TextColumn(help=tip)
        )
    return pd.DataFrame(shown, columns=list(headers.values())), config


def _table(rows: list[dict[str, object]], columns: tuple, key: str) -> None:
    table, config = compare_table(rows, columns)
    st.dataframe(
        table, hide_index=True, width="stretch", key=key, column_config=config, placeholder=ui.tr("common.none")
    )


def compare(ws: Workspace) -> None:
    rows = evaluation.compare_runs(ws.conn)
    if not rows:
        st.info(ui.tr("eval.none"))
        return
    _table(rows, SELECTION, "eval_compare_table")
    with st.expander(ui.tr("eval.compare.training"), icon=":material/model_training:"):
        _table(rows, TRAINING, "eval_compare_training")
    st.plotly_chart(
        plots.comparison_scatter(
            rows, {"f1": ui.tr("eval.m.macro_f1"), "ms": ui.tr("eval.axis.ms"), "gflops": ui.tr("eval.axis.gflops")}
        ),
        key="eval_compare_scatter",
        width="stretch",
    )
    pair = st.multiselect(
        ui.tr("eval.compare.pick"),
        [r["run_id"] for r in rows],
        max_selections=2,
        default=[r["run_id"] for r in rows[:2]],
        key="eval_compare_pair",
    )
    if len(pair) == 2:
        names = ui.label_names(ws)
        for col, run_id in zip(st.columns(2), pair, strict=True):
            result = evaluation.summarize_run(ws.conn, run_id)
            col.markdown(f"**#{run_id}** · {ui.tr('eval.m.macro_f1')} {result['macro_f1']:.3f}")
            col.plotly_chart(
                plots.confusion_heatmap(
                    result["confusion_matrix"],
                    [names.get(c, c) for c in result["labels"]],
                    {
                        "hover": ui.tr("eval.cm.hover"),
                        "predicted": ui.tr("eval.predicted"),
                        "given": ui.tr("eval.given"),
                    },
                ),
                key=f"eval_pair_{run_id}",
                width="stretch",
            )
