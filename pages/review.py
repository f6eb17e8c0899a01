"""Review page: the photos that most deserve a human look, one at a time, relabel / confirm / skip."""

from __future__ import annotations

import streamlit as st

from core import auth, config, jobs, review, runs, store
from core.errors import CoreError
from core.workspace import Workspace
from ui import components as ui
from ui.panels import review as review_panels

ws = ui.workspace()
me = ui.actor()
names = ui.label_names(ws)

st.title(ui.tr("review.title"))
st.session_state.review_flash_shown = st.session_state.get("flash")  # kept for the heatmap's rerun
ui.flash()


def _queue_suspects(ws: Workspace, me: auth.Actor) -> None:
    job_id = jobs.submit(
        ws.conn, me, config.TrainConfig(kind="suspects", epochs=1, warmup_epochs=0, image_size=config.QUICK_IMAGE_SIZE)
    )
    jobs.ensure_worker(ws)
    ui.flash_ok(ui.tr("review.suspects.queued", id=job_id))


finished = [run for run in runs.list_runs(ws.conn) if run.finished]
top = st.columns([3, 2], vertical_alignment="bottom")
run_id = None
if finished:
    production = runs.production_run_id(ws.conn)
    arch_of = {r.id: r.arch for r in finished}
    ids = list(arch_of)
    run_id = top[0].selectbox(
        ui.tr("review.run"),
        ids,
        index=ids.index(production) if production in ids else 0,
        key=f"review_run_{ids[0]}",
        format_func=lambda i: f"#{i} · {arch_of[i]}",
    )
with top[1]:
    computed = review.suspects_computed_at(ws.conn)
    st.caption(ui.tr("review.suspects.at", at=ui.local_time(computed)) if computed else ui.tr("review.suspects.never"))
    if auth.can(me, "train"):
        st.button(
            ui.tr("review.suspects.find"),
            icon=":material/troubleshoot:",
            key="review_find",
            on_click=ui.act,
            args=(_queue_suspects, ws),
        )

reasons = ui.choices(
    st,
    ui.tr("review.reasons"),
    list(review.REASONS),
    "review_reasons",
    lambda r: ui.tr(f"review.reason.{r}"),
    default=list(review.REASONS),
)
try:
    items = review.queue(ws.conn, run_id, reasons)
except CoreError as exc:
    ui.show_error(exc)
    st.stop()

st.caption(ui.tr("review.count", n=len(items)))
if not items:
    st.success(ui.tr("review.empty"), icon=":material/task_alt:")
    st.stop()

review_panels.card(ws, me, run_id, items, names)

if len(items) > 1:
    st.caption(ui.tr("review.next"))
    strip = st.columns(8)
    for col, nxt in zip(strip, items[1:9], strict=False):
        col.image(
            ui.picture(ws, store.get_image(ws.conn, nxt.image_id)),
            caption=ui.tr(f"review.reason.{nxt.reason}"),
            width="stretch",
        )
