"""Train page: pick a backbone and settings, start a run, a quick model or a sweep; watch jobs live."""

from __future__ import annotations

import streamlit as st

from core import auth, jobs
from core.errors import CoreError
from ui import components as ui
from ui.panels import train as panels
from ui.panels import train_distill, train_jobs

ws = ui.workspace()
me = ui.actor()

st.title(ui.tr("train.title"))
ui.flash()

if auth.can(me, "train"):
    with st.container(border=True):
        st.subheader(ui.tr("train.new.header"))
        try:
            panels.config_form(ws)  # a setting core refuses is said here, and no start button is drawn
            panels.start_buttons(ws)
            panels.sweep_panel(ws)
            train_distill.distil_panel(ws)
        except CoreError as exc:
            ui.show_error(exc)
else:
    st.info(ui.tr("train.viewer_only", role=ui.tr(f"role.{me.role}")))


@ui.live(2.0)
def live_jobs() -> None:
    """Redrawn every 2 s from the database: a reload, a restart or another user sees the same thing."""
    try:
        if jobs.ensure_worker(ws):
            st.toast(ui.tr("train.worker_started"), icon=":material/rocket_launch:")
        listing = jobs.list_jobs(ws.conn, limit=100)
    except CoreError as exc:
        ui.show_error(exc)
        return
    if not listing:
        st.info(ui.tr("train.jobs.empty"))
        return
    job = train_jobs.jobs_table(ws, listing)
    train_jobs.show_note(job)  # a note about a job that has moved on since is dropped here, every 2 s
    if job is not None:
        train_jobs.job_detail(ws, ui.actor(), job)  # the role as it is now: this redraw skips app.py


st.subheader(ui.tr("train.jobs.header"))
live_jobs()
panels.sweep_results(ws)
