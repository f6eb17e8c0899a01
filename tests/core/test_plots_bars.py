"""plots.probability_bars: the Diagnose page's probability figure, built in core from plain data and texts the
page translated."""

from __future__ import annotations

import pytest

from core import plots

PROBS = {"normal": 0.7, "broken": 0.2, "missing": 0.1}
NAMES = {"normal": "정상", "broken": "파손", "missing": "누락"}


def test_bars_show_each_class_in_the_users_words_normal_green_defects_red():
    fig = plots.probability_bars(PROBS, NAMES, "normal", None, {"operating_point": "운영 기준"})
    (bar,) = fig.data
    assert bar.orientation == "h"
    assert list(bar.x) == [0.7, 0.2, 0.1] and list(bar.y) == ["정상", "파손", "누락"]
    assert list(bar.text) == ["70.0%", "20.0%", "10.0%"]
    assert list(bar.marker.color) == [plots.NORMAL_COLOUR, plots.DEFECT_COLOUR, plots.DEFECT_COLOUR]
    assert fig.layout.xaxis.range == (0, 1) and fig.layout.height == 56 + 40 * 3
    assert not fig.layout.shapes and not fig.layout.annotations  # no operating point: no line


@pytest.mark.parametrize(
    ("order", "threshold", "anchor"),
    [(["broken", "normal", "missing"], 0.8, "right"), (["missing", "broken", "normal"], 0.25, "left")],
)
def test_the_operating_point_line_crosses_the_normal_bar_only(order, threshold, anchor):
    probs = {c: PROBS[c] for c in order}
    fig = plots.probability_bars(probs, {}, "normal", threshold, {"operating_point": "Operating point"})
    (line,) = fig.layout.shapes
    row = order.index("normal")
    assert line.x0 == line.x1 == threshold and (line.xref, line.yref) == ("x", "y")
    assert row - 0.5 < line.y0 < row < line.y1 < row + 0.5
    (note,) = fig.layout.annotations
    assert note.text == f"Operating point {threshold:.3f}" and note.xanchor == anchor
    assert list(fig.data[0].y) == order  # no display names given: the class names


def test_a_model_without_a_normal_class_gets_no_line():
    fig = plots.probability_bars({"a": 0.6, "b": 0.4}, {}, "normal", 0.5, {"operating_point": "x"})
    assert not fig.layout.shapes and list(fig.data[0].marker.color) == [plots.DEFECT_COLOUR] * 2


def test_the_strictest_operating_point_just_above_one_is_drawn_at_the_axis_end():
    """Plotly drops an annotation outside the axis range: at threshold 1 + 1e-9 (no photo called normal) the
    page showed the line but not its text."""
    fig = plots.probability_bars(PROBS, NAMES, "normal", 1.0 + 1e-9, {"operating_point": "운영점"})
    (line,), (note,) = fig.layout.shapes, fig.layout.annotations
    assert line.x0 == line.x1 == note.x == 1.0 and note.text == "운영점 1.000"
