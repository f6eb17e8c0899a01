"""Panels of the Train page: the run form, start buttons, sweep, job table, live job detail, sweep results."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import auth, config, jobs, plots, runs, weights, zoo
from core.workspace import Workspace
from pages import components as ui

LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]
SIZES = [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 384]
BATCHES = [4, 8, 16, 32, 64, 128]
STATUS_ICONS = {"queued": ":material/schedule:", "running": ":material/autorenew:", "done": ":material/check_circle:",
                "failed": ":material/error:", "cancelled": ":material/block:", "interrupted": ":material/pause_circle:"}
# plain characters: tables and select boxes show text, not material icons
STATUS_MARKS = {"queued": "⏳", "running": "▶", "done": "✔", "failed": "✖", "cancelled": "■", "interrupted": "⏸"}
STATUS_COLOURS = {"queued": "gray", "running": "blue", "done": "green", "failed": "red", "cancelled": "orange",
                  "interrupted": "orange"}


def _params(millions: float) -> str:
    return f"{millions:.1f} M" if millions >= 0.1 else f"{millions * 1000:.0f} K"


def _arch_text(name: str) -> str:
    arch = zoo.ARCHES[name]
    return ui.tr("train.arch.option", name=name, family=arch.family, params=_params(arch.params_m),
                 gflops=f"{arch.gflops_224:.2f}")


def _weights_note(ws: Workspace, arch: zoo.Arch) -> bool:
    """Say where pretrained weights come from, or where to put the file; True when they were found."""
    if not arch.weight_files:
        st.caption(":material/info: " + ui.tr("train.weights.none_exist"))
        return False
    found = weights.find_weights(arch.name, ws.layout.weights)
    if found.found:
        st.success(ui.tr("train.weights.found", source=ui.tr(f"train.weights.source.{found.source}"),
                         path=str(found.path)), icon=":material/verified:")
        return True
    st.warning(ui.tr("train.weights.missing", file=arch.weight_files[0], workspace=str(ws.layout.weights),
                     hub=str(weights.hub_dir())), icon=":material/warning:")
    return False


def config_form(ws: Workspace) -> config.TrainConfig:
    """The run settings, with weights availability for the chosen backbone; raises ValidationError."""
    name = ui.choice(st, ui.tr("train.arch"), list(zoo.ARCHES), "train_arch", _arch_text)
    arch = zoo.ARCHES[name]
    has_weights = _weights_note(ws, arch)
    cols = st.columns(6)
    epochs = cols[0].number_input(ui.tr("train.epochs"), 1, 500, 10, key="train_epochs")
    batch = cols[1].selectbox(ui.tr("train.batch"), BATCHES, index=BATCHES.index(32), key="train_batch")
    lr = cols[2].selectbox(ui.tr("train.lr"), LRS, index=LRS.index(1e-3), format_func=lambda v: f"{v:g}",
                           key="train_lr")
    size = cols[3].selectbox(ui.tr("train.size"), SIZES, index=SIZES.index(arch.default_size), key=f"train_size_{name}")
    optimizer = cols[4].selectbox(ui.tr("train.optimizer"), config.OPTIMIZERS, index=2, key="train_optimizer")
    augment = ui.choice(cols[5], ui.tr("train.augment"), list(config.AUGMENTS), "train_augment",
                        lambda k: ui.tr(f"train.augment.{k}"), index=1, help=ui.tr("train.augment.help"))
    st.caption(ui.tr("train.cost", params=_params(arch.params_m), gflops=f"{arch.gflops(size):.2f}", size=size))
    values = {"arch": name, "epochs": int(epochs), "batch_size": int(batch), "lr": float(lr), "image_size": int(size),
              "optimizer": optimizer, "augment": augment}
    with st.expander(ui.tr("train.advanced"), icon=":material/tune:"):
        values.update(_advanced(name, int(epochs), has_weights))
    return config.TrainConfig(**values)


def _advanced(arch: str, epochs: int, has_weights: bool) -> dict[str, object]:
    a = st.columns(4)
    b = st.columns(4)
    # one box per backbone: a tick left from a backbone with weights must not carry over to one without
    ticked = st.checkbox(ui.tr("train.pretrained"), value=has_weights, disabled=not has_weights,
                         key=f"train_pretrained_{arch}")
    return {
        "scheduler": ui.choice(a[0], ui.tr("train.scheduler"), list(config.SCHEDULERS), "train_scheduler",
                               lambda k: ui.tr(f"train.scheduler.{k}")),
        "warmup_epochs": int(a[1].number_input(ui.tr("train.warmup"), 0, epochs, min(1, epochs), key="train_warmup")),
        "weight_decay": float(a[2].selectbox(ui.tr("train.weight_decay"), [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 5e-2], index=2,
                                             format_func=lambda v: f"{v:g}", key="train_wd")),
        "label_smoothing": float(a[3].slider(ui.tr("train.smoothing"), 0.0, 0.3, 0.0, 0.05, key="train_smoothing")),
        "balance": ui.choice(b[0], ui.tr("train.balance"), list(config.BALANCES), "train_balance",
                             lambda k: ui.tr(f"train.balance.{k}")),
        "freeze_epochs": int(b[1].number_input(ui.tr("train.freeze"), 0, epochs, 0, key="train_freeze")),
        "early_stop": int(b[2].number_input(ui.tr("train.early_stop"), 0, 100, 0, key="train_early_stop",
                                            help=ui.tr("train.early_stop.help"))),
        "seed": int(b[3].number_input(ui.tr("train.seed"), 0, 2**31 - 1, 0, key="train_seed")),
        "pretrained": has_weights and ticked,
    }


def _queue(ws: Workspace, me: auth.Actor, cfg: config.TrainConfig) -> None:
    job_id = jobs.submit(ws.conn, me, cfg)
    jobs.ensure_worker(ws)
    st.session_state.job_pick = job_id  # watch the job just started
    st.session_state.flash = ("ok", ui.tr("train.queued", id=job_id))


def start_buttons(ws: Workspace, me: auth.Actor, cfg: config.TrainConfig) -> None:
    left, right, _ = st.columns([1, 1, 2])
    if left.button(ui.tr("train.start"), type="primary", icon=":material/play_arrow:", key="train_start",
                   width="stretch"):
        _queue(ws, me, cfg)
        st.rerun()
    if right.button(ui.tr("train.quick"), icon=":material/bolt:", key="train_quick", help=ui.tr("train.quick.help"),
                    width="stretch"):
        _queue(ws, me, config.TrainConfig(arch=cfg.arch, kind="quick", epochs=1, warmup_epochs=0, seed=cfg.seed,
                                          image_size=config.QUICK_IMAGE_SIZE, pretrained=cfg.pretrained))
        st.rerun()


def sweep_panel(ws: Workspace, me: auth.Actor, cfg: config.TrainConfig) -> None:
    with st.expander(ui.tr("train.sweep"), icon=":material/grid_on:"):
        st.caption(ui.tr("train.sweep.help"))
        left, right = st.columns(2)
        batches = left.multiselect(ui.tr("train.batch"), BATCHES, default=[16, 32], key="sweep_batches")
        lrs = right.multiselect(ui.tr("train.lr"), LRS, default=[3e-4, 1e-3], format_func=lambda v: f"{v:g}",
                                key="sweep_lrs")
        count = len(batches) * len(lrs)
        if st.button(ui.tr("train.sweep.start", n=count), key="sweep_start", disabled=count == 0):
            ids = jobs.submit_sweep(ws.conn, me, cfg, sorted(batches), sorted(lrs))
            jobs.ensure_worker(ws)
            st.session_state.flash = ("ok", ui.tr("train.sweep.queued", n=len(ids), first=ids[0], last=ids[-1]))
            st.rerun()


def _status(job: jobs.Job, markdown: bool = False) -> str:
    mark = STATUS_ICONS[job.status] if markdown else STATUS_MARKS[job.status]
    return f"{mark} {ui.tr('job.status.' + job.status)}"


def _progress_text(job: jobs.Job) -> str:
    p = job.progress
    if job.status != "running" or not p:
        return ""
    return ui.tr("train.progress.epoch", epoch=p.get("epoch", 0), epochs=p.get("epochs", job.config.epochs))


def _job_label(job: jobs.Job) -> str:
    return f"#{job.id} · {job.config.arch} · {ui.tr('train.kind.' + job.kind)} · {ui.local_time(job.created_at)}"


def jobs_table(ws: Workspace, listing: list[jobs.Job]) -> jobs.Job | None:
    """Recent jobs as a table, and a picker for the one to watch (the newest active one by default)."""
    run_of = {r.job_id: r for r in runs.list_runs(ws.conn)}
    rows = [{"#": j.id, ui.tr("train.col.kind"): ui.tr(f"train.kind.{j.kind}"), ui.tr("train.col.arch"): j.config.arch,
             ui.tr("train.col.status"): _status(j), ui.tr("train.col.progress"): _progress_text(j),
             ui.tr("train.col.val_f1"): getattr(run_of.get(j.id), "val_macro_f1", None),
             ui.tr("train.col.test_f1"): getattr(run_of.get(j.id), "test_macro_f1", None),
             ui.tr("train.col.by"): j.created_by, ui.tr("train.col.at"): ui.local_time(j.created_at)} for j in listing]
    table = pd.DataFrame(rows)
    for column in (ui.tr("train.col.val_f1"), ui.tr("train.col.test_f1")):
        table[column] = table[column].astype("float64")  # None -> NaN: an empty cell, not the word None
    st.dataframe(table, hide_index=True, width="stretch", height=min(38 + 35 * len(rows), 250),
                 column_config={ui.tr("train.col.val_f1"): st.column_config.NumberColumn(format="%.3f"),
                                ui.tr("train.col.test_f1"): st.column_config.NumberColumn(format="%.3f")})
    ids = [j.id for j in listing]
    wanted = st.session_state.get("job_pick")
    if wanted not in ids:
        active = [j.id for j in listing if j.active]
        wanted = active[-1] if active else ids[0]
    by_id = {j.id: j for j in listing}
    # no status in the label: a select box keeps the texts it first drew while the status moves on;
    # the options carry the newest job, so a new job gives a new box that starts on the wanted one
    pick = st.selectbox(ui.tr("train.watch"), ids, index=ids.index(wanted), key=f"job_pick_{ui.lang()}_{ids[0]}",
                        format_func=lambda i: _job_label(by_id[i]))
    st.session_state.job_pick = pick
    return by_id.get(pick)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ui.tr("common.none")
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else (f"{minutes} min {secs:02d} s" if minutes else f"{secs} s")


def _live(job: jobs.Job, run: runs.Run | None) -> None:
    p = job.progress
    phase = str(p.get("phase", "start"))
    epochs = int(p.get("epochs") or job.config.epochs)
    step, steps, epoch = int(p.get("step") or 0), int(p.get("steps") or 0), int(p.get("epoch") or 0)
    done = ((epoch - 1) + step / steps) / epochs if phase == "train" and steps else (epoch / epochs if epochs else 0)
    st.progress(min(max(done, 0.0), 1.0), text=ui.tr(f"train.phase.{phase}", epoch=epoch, epochs=epochs, step=step,
                                                     steps=steps))
    cols = st.columns(5)
    cols[0].metric(ui.tr("train.m.epoch"), f"{epoch} / {epochs}")
    cols[1].metric(ui.tr("train.m.lr"), f"{p['lr']:.2e}" if p.get("lr") else ui.tr("common.none"))
    speed = p.get("images_per_s")
    cols[2].metric(ui.tr("train.m.speed"), f"{speed:.0f}" if speed else ui.tr("common.none"))
    cols[3].metric(ui.tr("train.m.eta"), _duration(p.get("eta_s")))
    cols[4].metric(ui.tr("train.m.device"), (run.device or "").split(" (")[0] if run else ui.tr("common.none"),
                   help=run.device if run else None)


def _actions(ws: Workspace, me: auth.Actor, job: jobs.Job) -> None:
    if not auth.can(me, "cancel"):
        return
    if job.active and st.button(ui.tr("train.cancel"), icon=":material/stop_circle:", key=f"cancel_{job.id}",
                                disabled=job.cancel_requested):
        jobs.cancel(ws.conn, me, job.id)
        st.rerun(scope="fragment")
    if job.status in jobs.RESUMABLE and st.button(ui.tr("train.resume"), icon=":material/replay:",
                                                  key=f"resume_{job.id}", type="primary"):
        jobs.resume(ws.conn, me, job.id)
        jobs.ensure_worker(ws)
        st.rerun(scope="fragment")


def job_detail(ws: Workspace, me: auth.Actor, job: jobs.Job) -> None:
    """Status, live progress, curves, results, weights and the log tail of one job."""
    run = runs.run_for_job(ws.conn, job.id)
    with st.container(border=True, key="job_detail"):
        colour = STATUS_COLOURS[job.status]
        st.markdown(f"#### #{job.id} · {job.config.arch} · :{colour}[{_status(job, markdown=True)}]")
        if job.cancel_requested and job.active:
            st.info(ui.tr("train.cancelling"), icon=":material/hourglass_top:")
        if job.status == "running":
            _live(job, run)
        elif job.status == "queued":
            st.info(ui.tr("train.waiting"), icon=":material/schedule:")
        elif job.status in ("failed", "interrupted", "cancelled") and job.error:
            (st.error if job.status == "failed" else st.warning)(
                ui.tr("train.ended", status=ui.tr(f"job.status.{job.status}"), error=job.error)
                + (f"\n\n{ui.tr('train.hint', hint=job.error_hint)}" if job.error_hint else ""))
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
        st.caption(":material/info: " + ui.tr("train.run.scratch", reason=str(run.weights.get("reason") or "")))
    if run.finished_at:
        figures = {"train.m.best_epoch": run.best_epoch, "train.m.val_acc": run.val_accuracy,
                   "train.m.val_f1": run.val_macro_f1, "train.m.test_acc": run.test_accuracy,
                   "train.m.test_f1": run.test_macro_f1}
        for col, (key, value) in zip(st.columns(len(figures)), figures.items(), strict=True):
            shown = ui.tr("common.none") if value is None else (f"{value:.3f}" if isinstance(value, float) else value)
            col.metric(ui.tr(key), shown)
    history = [vars(e) for e in runs.epochs(ws.conn, run.id)]
    if history and job.kind == "train":
        names = {k: ui.tr(f"train.curve.{k}") for k in ("train", "val", "loss", "epoch", "train_acc", "val_acc",
                                                          "train_f1", "val_f1", "score")}
        left, right = st.columns(2)
        left.plotly_chart(plots.loss_curves(history, names), key=f"loss_{run.id}", width="stretch")
        right.plotly_chart(plots.score_curves(history, names), key=f"score_{run.id}", width="stretch")


@st.fragment(run_every=5.0)
def sweep_results(ws: Workspace) -> None:
    """The runs of one sweep side by side: batch size, learning rate and what each reached."""
    listing = [j for j in jobs.list_jobs(ws.conn, limit=500) if j.sweep]
    if not listing:
        return
    st.subheader(ui.tr("train.sweep.results"))
    names = sorted({j.sweep for j in listing}, reverse=True)
    sweep = st.selectbox(ui.tr("train.sweep.pick"), names, key="sweep_pick")
    run_of = {r.job_id: r for r in runs.list_runs(ws.conn)}
    rows = []
    for j in sorted((j for j in listing if j.sweep == sweep), key=lambda j: (j.config.batch_size, j.config.lr)):
        r = run_of.get(j.id)
        rows.append({"#": j.id, ui.tr("train.batch"): j.config.batch_size, ui.tr("train.lr"): f"{j.config.lr:g}",
                     ui.tr("train.col.status"): _status(j), ui.tr("train.m.best_epoch"): r.best_epoch if r else None,
                     ui.tr("train.m.val_f1"): r.val_macro_f1 if r else None,
                     ui.tr("train.m.test_f1"): r.test_macro_f1 if r else None})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={ui.tr("train.m.val_f1"): st.column_config.ProgressColumn(min_value=0, max_value=1,
                                                                                          format="%.3f"),
                                ui.tr("train.m.test_f1"): st.column_config.NumberColumn(format="%.3f")})
