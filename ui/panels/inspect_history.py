"""The inspection history on the Inspect page: per asset and station, filtered by time, as a table, a CSV and
the shift summary; any inspection opened again with its report."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core import auth, inspection_csv, inspection_report, inspections, stations
from core.workspace import Workspace
from ui import components as ui
from ui.panels import inspect


def _filters(ws: Workspace) -> tuple[str, str, str, str]:
    cols = st.columns(4)
    names = [s.name for s in stations.list_stations(ws.conn)]
    station = cols[0].selectbox(
        ui.tr("inspect.station"),
        ["", *names],
        key=f"hist_station_{ui.lang()}",
        format_func=lambda n: n or ui.tr("inspect.all"),
    )
    asset = cols[1].text_input(ui.tr("inspect.asset"), key="hist_asset", max_chars=80)
    today = dt.datetime.now(dt.UTC).date()
    since = cols[2].date_input(ui.tr("inspect.since"), today - dt.timedelta(days=7), key="hist_since")
    until = cols[3].date_input(ui.tr("inspect.until"), today, key="hist_until")
    end = (until + dt.timedelta(days=1)).isoformat() if until else ""  # the whole last day
    return station, asset.strip(), since.isoformat() if since else "", end


def history(ws: Workspace, me: auth.Actor) -> None:
    station, asset, since, until = _filters(ws)
    found = inspections.list_inspections(ws.conn, asset or None, station or None, since or None, until or None)
    st.caption(ui.tr("inspect.history.count", n=len(found)))
    if not found:
        return
    rows = [
        {
            "#": ins.id,
            ui.tr("inspect.col.time"): ins.at[:19].replace("T", " "),
            ui.tr("inspect.col.station"): f"{ins.station} v{ins.station_version}",
            ui.tr("inspect.col.asset"): ins.asset,
            ui.tr("inspect.col.verdict"): ui.tr(f"inspect.state.{ins.current_verdict}"),
            ui.tr("inspect.col.defects"): sum(1 for p in ins.positions if inspection_report.state(p) == "defect"),
            ui.tr("inspect.col.inspector"): ins.inspector,
            ui.tr("inspect.col.photo"): ins.photo_name,
        }
        for ins in reversed(found)  # newest first on screen; the CSV keeps time order
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="hist_table")
    cols = st.columns(3)
    lang = ui.lang()  # the callable runs when the button is pressed, outside this script run
    cols[0].download_button(
        ui.tr("inspect.history.csv"),
        inspection_csv.data(found),
        "inspections.csv",
        "text/csv",
        key="hist_csv",
        icon=":material/download:",
        on_click="ignore",
    )
    cols[1].download_button(
        ui.tr("inspect.history.summary"),
        data=lambda: inspection_report.summary_pdf(ws, me, since, until, lang),
        file_name=f"shift-summary-{since[:10]}.pdf",
        mime="application/pdf",
        key="hist_summary",
        icon=":material/summarize:",
        on_click="ignore",
    )
    shown = cols[2].selectbox(
        ui.tr("inspect.history.open"), [""] + [str(i.id) for i in reversed(found)], key="hist_open"
    )
    if shown:
        inspect.card(ws, me, int(shown))
