"""Train page, the live part: the job table, the watched job's detail and actions, and notes bound to a job."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import auth, i18n, jobs, plots, runs
from core.errors import CoreError
from core.workspace import Workspace
from ui import components as ui
from ui.panels import train_texts

PROBE_KINDS = ("quick", "suspects")  # embeddings, then a fitted classifier: no epochs to count


# ---- notes: a message about one job, shown while that job stays as it was ----------------------------------


def _state(job: jobs.Job) -> tuple[str, int, bool]:
    return job.status, job.attempts, job.cancel_requested


def note(
    ws: Workspace, kind: str, job_id: int, key: str | None, values: dict[str, object] | None = None, text: str = ""
) -> None:
    """Leave a message about job_id (a text key and its values, translated when shown; else text): shown
    while it is the watched job and its state has not moved on."""
    try:
        state = _state(jobs.get_job(ws.conn, job_id))
    except CoreError:
        state = None
    st.session_state.train_note = (kind, key, dict(values or {}), text, job_id, state)


def note_error(ws: Workspace, exc: CoreError, job_id: int) -> None:
    note(ws, "error", job_id, exc.key, exc.detail, ui.error_text(exc))


def show_note(job: jobs.Job | None) -> None:
    """The note, unless the job it is about moved on or another job is watched: then it is dropped."""
    kept = st.session_state.get("train_note")
    if not kept:
        return
    kind, key, values, text, job_id, state = kept
    if job is None or job.id != job_id or _state(job) != state:
        st.session_state.pop("train_note", None)
        return
    shown = ui.tr(key, **ui.plain_values(values)) if key in i18n.EN else text
    if kind == "error":
        st.error(shown, icon=":material/error:")
    else:
        st.success(shown, icon=":material/check_circle:")


# ---- the table and the detail --------------------------------------------------------------------------------


def jobs_table(ws: Workspace, listing: list[jobs.Job]) -> jobs.Job | None:
    """Recent jobs as a table, and a picker for the one to watch (the newest active one by default)."""
    run_of = {r.job_id: r for r in runs.list_runs(ws.conn)}
    rows = [
        {
            "#": j.id,
            ui.tr("train.col.kind"): train_texts.kind_text(j.kind),
            ui.tr("train.col.arch"): j.config.arch,
            ui.tr("train.col.status"): train_texts.status_text(j),
            ui.tr("train.col.progress"): train_texts.progress_cell(j),
            ui.tr("train.col.val_f1"): train_texts.figure(getattr(run_of.get(j.id), "val_macro_f1", None)),
            ui.tr("train.col.test_f1"): train_texts.figure(getattr(run_of.get(j.id), "test_macro_f1", None)),
            ui.tr("train.col.by"): j.created_by,
            ui.tr("train.col.at"): ui.local_time(j.created_at),
        }
        for j in listing
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=min(38 + 35 * len(rows), 250))
    ids = [j.id for j in listing]
    wanted = st.session_state.get("job_pick")
    if wanted not in ids:
        active = [j.id for j in listing if j.active]
        wanted = active[-1] if active else ids[0]
    by_id = {j.id: j for j in listing}
    # no status in the label: a select box keeps the texts it first drew while the status moves on;
    # the options carry the newest job, so a new job gives a new box that starts on the wanted one.
    # The labels are made here, in this run's language, not later by the format function.
    labels = {
        j.id: f"#{j.id} · {j.config.arch} · {train_texts.kind_text(j.kind)} · {ui.local_time(j.created_at)}"
        for j in listing
    }
    pick = st.selectbox(
        ui.tr("train.watch"),
        ids,
        index=ids.index(wanted),
        key=f"job_pick_{ui.lang()}_{ids[0]}",
        format_func=labels.__getitem__,
    )
    st.session_state.job_pick = pick
    return by_id.get(pick)


def _live_probe(job: jobs.Job, run: runs.Run | None) -> None:
    """A quick model or a suspects scan: embeddings n/N, then fitting k/K; no epochs."""
    p = job.progress
    step, steps = int(p.get("step") or 0), int(p.get("steps") or 0)
    st.progress(min(step / steps, 1.0) if steps else 0.0, text=train_texts.phase_text(job))
    cols = st.columns(3)
    phase = str(p.get("phase") or "start")
    stage = phase if phase in ("embed", "fit", "tune") else "start"
    cols[0].metric(ui.tr("train.m.stage"), ui.tr(f"train.stage.{stage}"))
    cols[1].metric(ui.tr("train.m.done"), f"{step} / {steps}" if steps else ui.tr("common.none"))
    device, full = train_texts.device(run)
    cols[2].metric(ui.tr("train.m.device"), device, help=full)


def _live(job: jobs.Job, run: runs.Run | None) -> None:
    if job.kind in PROBE_KINDS:
        _live_probe(job, run)
        return
    p = job.progress
    phase = str(p.get("phase", "start"))
    epochs = int(p.get("epochs") or job.config.epochs)
    step, steps, epoch = int(p.get("step") or 0), int(p.get("steps") or 0), int(p.get("epoch") or 0)
    done = ((epoch - 1) + step / steps) / epochs if phase == "train" and steps else (epoch / epochs if epochs else 0)
    st.progress(min(max(done, 0.0), 1.0), text=train_texts.phase_text(job))
    cols = st.columns(5)
    cols[0].metric(ui.tr("train.m.epoch"), f"{epoch} / {epochs}")
    cols[1].metric(ui.tr("train.m.lr"), f"{p['lr']:.2e}" if p.get("lr") else ui.tr("common.none"))
    speed = p.get("images_per_s")
    cols[2].metric(ui.tr("train.m.speed"), f"{speed:.0f}" if speed else ui.tr("common.none"))
    cols[3].metric(ui.tr("train.m.eta"), train_texts.duration(p.get("eta_s")))
    device, full = train_texts.device(run)
    cols[4].metric(ui.tr("train.m.device"), device, help=full)


def _cancel(ws: Workspace, me: auth.Actor, job_id: int) -> None:
    """on_click: runs before the page is drawn again, even when the job ended since the button was drawn."""
    try:
        jobs.cancel(ws.conn, me, job_id)
    except CoreError as exc:
        note_error(ws, exc, job_id)


def _resume(ws: Workspace, me: auth.Actor, job_id: int) -> None:
    try:
        jobs.resume(ws.conn, me, job_id)
        jobs.ensure_worker(ws)
    except CoreError as exc:
        note_error(ws, exc, job_id)
        return
    note(ws, "ok", job_id, "train.resume.queued", {"id": job_id})


def _actions(ws: Workspace, me: auth.Actor, job: jobs.Job) -> None:
    if not auth.can(me, "cancel"):
        return
    if job.active:
        st.button(
            ui.tr("train.cancel"),
            icon=":material/stop_circle:",
            key=f"cancel_{job.id}",
            disabled=job.cancel_requested,
            on_click=ui.act,
            args=(_cancel, ws, job.id),
        )
    if job.status in jobs.RESUMABLE:
        st.button(
            ui.tr("train.resume"),
            icon=":material/replay:",
            key=f"resume_{job.id}",
            type="primary",
            on_click=ui.act,
            args=(_resume, ws, job.id),
        )


def job_detail(ws: Workspace, me: auth.Actor, job: jobs.Job) -> None:
    """Status, live progress, curves, results, weights and the log tail of one job."""
    run = runs.run_for_job(ws.conn, job.id)
    with st.container(border=True, key="job_detail"):
        colour = train_texts.STATUS_COLOURS[job.status]
        st.markdown(
            f"#### #{job.id} · {job.config.arch} · {train_texts.kind_text(job.kind)} · "
            f":{colour}[{train_texts.status_text(job, markdown=True)}]"
        )
        if job.config.teacher_run:
            st.caption(":material/school: " + ui.tr("distill.taught_by", run=job.config.teacher_run))
        if job.resumed:
            st.caption(f":material/replay: {train_texts.resumed_text(job)} · " + ui.tr("train.attempt", n=job.attempts))
        if job.cancel_requested and job.active:
            st.info(ui.tr("train.cancelling"), icon=":material/hourglass_top:")
        if job.status == "running":
            _live(job, run)
        elif job.status == "queued":
            st.info(ui.tr("train.waiting"), icon=":material/schedule:")
        elif job.status in ("failed", "interrupted", "cancelled") and (job.error or job.progress.get("error_key")):
            (st.error if job.status == "failed" else st.warning)(
                ui.tr("train.ended", status=ui.tr(f"job.status.{job.status}"), error=train_texts.error_text(job))
            )
        _actions(ws, me, job)
        if run is not None:
            _run_figures(ws, job, run)
        with st.expander(ui.tr("train.log"), icon=":material/article:", expanded=job.status == "failed"):
            st.code(jobs.log_tail(ws.layout.job_log(job.id)) or ui.tr("train.log.empty"), language="log")


def _run_figures(ws: Workspace, job: jobs.Job, run: runs.Run) -> None:
    used = run.weights.get("used")
    if used:
        st.caption(":material/verified: " + ui.tr("train.run.pretrained", path=str(run.weights.get("path"))))
    elif run.weights.get("reason") or not run.weights.get("path"):
        st.caption(":material/info: " + ui.tr("train.run.scratch", reason=ui.plain(run.weights.get("reason") or "")))
    if run.finished_at:
        figures = {
            "train.m.best_epoch": run.best_epoch,
            "train.m.val_acc": run.val_accuracy,
            "train.m.val_f1": run.val_macro_f1,
            "train.m.test_acc": run.test_accuracy,
            "train.m.test_f1": run.test_macro_f1,
        }
        for col, (key, value) in zip(st.columns(len(figures)), figures.items(), strict=True):
            col.metric(ui.tr(key), train_texts.figure(value))
    history = [vars(e) for e in runs.epochs(ws.conn, run.id)]
    if history and job.config.trains_a_model:
        names = {
            k: ui.tr(f"train.curve.{k}")
            for k in ("train", "val", "loss", "epoch", "train_acc", "val_acc", "train_f1", "val_f1", "score")
        }
        left, right = st.columns(2)
        left.plotly_chart(plots.loss_curves(history, names), key=f"loss_{run.id}", width="stretch")
        right.plotly_chart(plots.score_curves(history, names), key=f"score_{run.id}", width="stretch")
