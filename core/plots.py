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
