"""Plotly figure builders from plain data; no I/O, no Streamlit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import plotly.graph_objects as go

from core.store import Image

SPLIT_COLOURS = {"train": "#1f6feb", "val": "#8957e5", "test": "#d29922"}


def class_balance(images: Sequence[Image], label_names: dict[str, str], split_names: dict[str, str],
                  y_title: str) -> go.Figure:
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
    fig.update_layout(barmode="stack", height=320, margin=dict(l=10, r=10, t=10, b=10),
                      yaxis_title=y_title, legend=dict(orientation="h", y=1.1))
    return fig


TRAIN_COLOUR, VAL_COLOUR, F1_COLOUR = "#1f6feb", "#d29922", "#2da44e"


def _curve_layout(fig: go.Figure, y_title: str, x_title: str) -> go.Figure:
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.15),
                      xaxis=dict(title=x_title, dtick=1), yaxis_title=y_title, hovermode="x unified")
    return fig


def loss_curves(epochs: Sequence[dict[str, float | None]], names: dict[str, str]) -> go.Figure:
    """Train and validation loss per epoch. names: train, val, loss, epoch (already translated)."""
    x = [e["epoch"] for e in epochs]
    fig = go.Figure()
    fig.add_scatter(x=x, y=[e["train_loss"] for e in epochs], name=names["train"], mode="lines+markers",
                    line_color=TRAIN_COLOUR)
    fig.add_scatter(x=x, y=[e["val_loss"] for e in epochs], name=names["val"], mode="lines+markers",
                    line_color=VAL_COLOUR)
    return _curve_layout(fig, names["loss"], names["epoch"])


def score_curves(epochs: Sequence[dict[str, float | None]], names: dict[str, str]) -> go.Figure:
    """Accuracy and macro-F1, train and validation, per epoch, on a 0–1 axis (F1 dotted)."""
    x = [e["epoch"] for e in epochs]
    fig = go.Figure()
    for key, name, colour, dash in (("train_accuracy", names["train_acc"], TRAIN_COLOUR, None),
                                    ("val_accuracy", names["val_acc"], VAL_COLOUR, None),
                                    ("train_macro_f1", names["train_f1"], TRAIN_COLOUR, "dot"),
                                    ("val_macro_f1", names["val_f1"], VAL_COLOUR, "dot")):
        fig.add_scatter(x=x, y=[e[key] for e in epochs], name=name, mode="lines+markers",
                        line=dict(color=colour, dash=dash))
    fig = _curve_layout(fig, names["score"], names["epoch"])
    fig.update_yaxes(range=[0, 1.02])
    return fig
