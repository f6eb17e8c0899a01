"""Inspect page: whole photos checked bolt by bolt at a station, the stations themselves, and the history."""

from __future__ import annotations

import streamlit as st

from ui import components as ui
from ui.panels import inspect as panels
from ui.panels import inspect_history, inspect_stations

ws = ui.workspace()
me = ui.actor()

st.title(ui.tr("inspect.title"))
with st.container():  # a message or none: the tabs below keep their place, so a rerun updates them in place
    ui.flash()
run, history, places = st.tabs([ui.tr("inspect.tab.run"), ui.tr("inspect.tab.history"), ui.tr("inspect.tab.stations")])
with run:
    panels.inputs(ws, me)
    panels.results(ws, me)
with history:
    inspect_history.history(ws, me)
with places:
    inspect_stations.listing(ws)
    inspect_stations.editor(ws, me)
