"""Plotly figure builders from plain data; no I/O, no Streamlit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import plotly.graph_objects as go

from core.store import Image

SPLIT_COLOURS = {"train": "#1f6feb", "val": "#8957e5", "test": "#d29922"}


def class_balance(
    images: Sequence[Image], label_names: dict[str, str], split_names: dict[str, str], y_title: str
) -> go.Figure:
    """Stacked bars: photos per label, one colour per split (unlabeled photos are left out)."""
    counts = Counter((im.label, im.split) for im in images if im.label is not None)
    fig = go.Figure()
    for split, split_text in split_names.items():
        fig.add_bar(
            name=split_text,
            x=list(label_names.values()),
            y=[counts.get((name, split), 0) for name in label_names],
            marker_color=SPLIT_COLOURS.get(split),
        )
    fig.update_layout(
        barmode="stack",
        height=320,
        margin=dict(l=10, r=10, t=10, b=10),
        yaxis_title=y_title,
        legend=dict(orientation="h", y=1.1),
    )
    return fig


TRAIN_COLOUR, VAL_COLOUR, F1_COLOUR = "#1f6feb", "#d29922", "#2da44e"


def _curve_layout(fig: go.Figure, y_title: str, x_title: str) -> go.Figure:
    # the legend sits above the plot, bottom-anchored, so wrapping to a second row never covers a curve
    fig.update_layout(
        height=320,
        margin=dict(l=10, r=10, t=60, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        xaxis=dict(title=x_title, dtick=1),
        yaxis_title=y_title,
        hovermode="x unified",
    )
    return fig


def loss_curves(epochs: Sequence[dict[str, float | None]], names: dict[str, str]) -> go.Figure:
    """Train and validation loss per epoch. names: train, val, loss, epoch (already translated)."""
    x = [e["epoch"] for e in epochs]
    fig = go.Figure()
    fig.add_scatter(
        x=x, y=[e["train_loss"] for e in epochs], name=names["train"], mode="lines+markers", line_color=TRAIN_COLOUR
    )
    fig.add_scatter(
        x=x, y=[e["val_loss"] for e in epochs], name=names["val"], mode="lines+markers", line_color=VAL_COLOUR
    )
    return _curve_layout(fig, names["loss"], names["epoch"])


def score_curves(epochs: Sequence[dict[str, float | None]], names: dict[str, str]) -> go.Figure:
    """Accuracy and macro-F1, train and validation, per epoch, on a 0–1 axis (F1 dotted)."""
    x = [e["epoch"] for e in epochs]
    fig = go.Figure()
    for key, name, colour, dash in (
        ("train_accuracy", names["train_acc"], TRAIN_COLOUR, None),
        ("val_accuracy", names["val_acc"], VAL_COLOUR, None),
        ("train_macro_f1", names["train_f1"], TRAIN_COLOUR, "dot"),
        ("val_macro_f1", names["val_f1"], VAL_COLOUR, "dot"),
    ):
        fig.add_scatter(
            x=x, y=[e[key] for e in epochs], name=name, mode="lines+markers", line=dict(color=colour, dash=dash)
        )
    fig = _curve_layout(fig, names["score"], names["epoch"])
    fig.update_yaxes(range=[0, 1.02])
    return fig


def confusion_heatmap(
    matrix: Sequence[Sequence[int]], labels: Sequence[str], names: dict[str, str], normalise: bool = False
) -> go.Figure:
    """Rows = given label, columns = predicted; cells show counts (or row shares); click a cell to select it."""
    counts = [list(map(int, row)) for row in matrix]
    shown = [[c / max(sum(row), 1) for c in row] for row in counts] if normalise else counts
    text = [
        [f"{v:.0%}<br>({c})" if normalise else str(c) for v, c in zip(r, cr, strict=True)]
        for r, cr in zip(shown, counts, strict=True)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=shown,
            x=list(labels),
            y=list(labels),
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            hoverinfo="skip",
        )
    )
    # heatmaps cannot be selected in plotly: an invisible square marker on each cell carries the click
    cells = [(p, g) for g in labels for p in labels]
    fig.add_scatter(
        x=[p for p, _ in cells],
        y=[g for _, g in cells],
        mode="markers",
        showlegend=False,
        marker=dict(size=70, opacity=0.0, symbol="square"),
        hovertemplate=names["hover"],
    )
    fig.update_layout(
        height=360,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis_title=names["predicted"],
        yaxis_title=names["given"],
        yaxis_autorange="reversed",
        clickmode="event+select",
    )
    return fig


def pr_figure(curves: dict[str, dict[str, list[float]]], names: dict[str, str]) -> go.Figure:
    fig = go.Figure()
    for label, curve in curves.items():
        fig.add_scatter(x=curve["recall"], y=curve["precision"], mode="lines", name=f"{label} (AP {curve['ap']:.3f})")
    return _curve_layout(fig, names["precision"], names["recall"]).update_xaxes(dtick=0.2, range=[0, 1.01])


def reliability_figure(
    data: dict[str, object], names: dict[str, str], before: dict[str, object] | None = None
) -> go.Figure:
    """Confidence against accuracy per bin; `before`: the same photos before temperature scaling (dotted)."""
    bins = data["bins"]
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#999", dash="dash"), name=names["ideal"])
    if before is not None:
        fig.add_scatter(
            x=[b["confidence"] for b in before["bins"]],
            y=[b["accuracy"] for b in before["bins"]],
            mode="lines+markers",
            line=dict(color="#b0b0b0", dash="dot"),
            name=names["before"],
        )
    fig.add_scatter(
        x=[b["confidence"] for b in bins],
        y=[b["accuracy"] for b in bins],
        mode="lines+markers",
        marker=dict(size=[6 + min(b["count"], 60) / 4 for b in bins]),
        name=names["model"],
        line_color=TRAIN_COLOUR,
    )
    return _curve_layout(fig, names["accuracy"], names["confidence"]).update_xaxes(dtick=0.2, range=[0, 1.01])


def comparison_scatter(rows: Sequence[dict[str, object]], names: dict[str, str]) -> go.Figure:
    """Macro-F1 against cost per photo (CPU ms when measured, else GFLOPs), one point per run."""
    use_ms = all(r.get("cpu_ms") for r in rows)
    fig = go.Figure(
        go.Scatter(
            x=[r["cpu_ms"] if use_ms else r["gflops"] for r in rows],
            y=[r["macro_f1"] for r in rows],
            mode="markers+text",
            text=[f"#{r['run_id']} {r['arch']}" for r in rows],
            textposition="top center",
            marker=dict(size=12, color=[F1_COLOUR if r.get("production") else TRAIN_COLOUR for r in rows]),
        )
    )
    fig.update_layout(
        height=340,
        margin=dict(l=10, r=10, t=10, b=10),
        yaxis_title=names["f1"],
        xaxis_title=names["ms"] if use_ms else names["gflops"],
    )
    return fig


NORMAL_COLOUR, DEFECT_COLOUR, LINE_COLOUR = "#2da44e", "#cf222e", "#24292f"


def probability_bars(
    probs: dict[str, float], names: dict[str, str], normal: str, threshold: float | None, texts: dict[str, str]
) -> go.Figure:
    """One photo's class probabilities, the normal class green and the defects red. The operating point is a
    threshold on P(normal), so its dotted line crosses that bar only. texts: operating_point (translated)."""
    classes = list(probs)
    fig = go.Figure(
        go.Bar(
            x=list(probs.values()),
            y=[names.get(c, c) for c in classes],
            orientation="h",
            marker_color=[NORMAL_COLOUR if c == normal else DEFECT_COLOUR for c in classes],
            text=[f"{p:.1%}" for p in probs.values()],
            textposition="auto",
        )
    )
    if threshold is not None and normal in classes:
        row = classes.index(normal)  # a category's centre is its index on the axis
        # the strictest point lies just above 1 (no photo is called normal): plotly drops an annotation placed
        # outside the axis range, so both are drawn at the axis end there; the text keeps the value
        x = min(threshold, 1.0)
        fig.add_shape(
            type="line",
            xref="x",
            yref="y",
            x0=x,
            x1=x,
            y0=row - 0.45,
            y1=row + 0.45,
            line=dict(dash="dot", color=LINE_COLOUR, width=2),
        )
        fig.add_annotation(
            x=x,
            y=row + 0.45,
            xref="x",
            yref="y",
            showarrow=False,
            yanchor="bottom",
            xanchor="right" if threshold > 0.5 else "left",
            font=dict(size=10),
            bgcolor="rgba(255,255,255,0.85)",  # readable over a long bar above
            text=f"{texts['operating_point']} {threshold:.3f}",
        )
    fig.update_layout(height=56 + 40 * len(classes), margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(range=[0, 1]))
    return fig
