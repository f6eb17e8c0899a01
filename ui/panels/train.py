"""Panels of the Train page: the run form, start buttons, sweep, sweep results (the live jobs: train_jobs)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import auth, config, jobs, runs, weights, zoo
from core.workspace import Workspace
from ui import components as ui
from ui.panels import train_jobs, train_texts

LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]
SIZES = [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 384]
BATCHES = [4, 8, 16, 32, 64, 128]


def _params(millions: float) -> str:
    return f"{millions:.1f} M" if millions >= 0.1 else f"{millions * 1000:.0f} K"


def arch_text(name: str) -> str:
    arch = zoo.ARCHES[name]
    return ui.tr(
        "train.arch.option",
        name=name,
        family=arch.family,
        params=_params(arch.params_m),
        gflops=f"{arch.gflops_224:.2f}",
    )


def weights_note(ws: Workspace, arch: zoo.Arch) -> bool:
    """Say where pretrained weights come from, or where to put the file; True when they were found."""
    if not arch.weight_files:
        st.caption(":material/info: " + ui.tr("train.weights.none_exist"))
        return False
    found = weights.find_weights(arch.name, ws.layout.weights)
    if found.found:
        st.success(
            ui.tr("train.weights.found", source=ui.tr(f"train.weights.source.{found.source}"), path=str(found.path)),
            icon=":material/verified:",
        )
        return True
    st.warning(
        ui.tr(
            "train.weights.missing",
            file=arch.weight_files[0],
            workspace=str(ws.layout.weights),
            hub=str(weights.hub_dir()),
        ),
        icon=":material/warning:",
    )
    return False


# What the form starts from; the widgets and `current_config` (for a key not drawn yet) share it.
DEFAULTS = {
    "epochs": 10,
    "batch_size": 32,
    "lr": 1e-3,
    "optimizer": config.OPTIMIZERS[2],
    "augment": config.AUGMENTS[1],
    "scheduler": config.SCHEDULERS[0],
    "weight_decay": 1e-4,
    "label_smoothing": 0.0,
    "balance": config.BALANCES[0],
    "freeze_epochs": 0,
    "early_stop": 0,
    "seed": 0,
}
WEIGHT_DECAYS = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 5e-2]


def _has_weights(ws: Workspace, arch: zoo.Arch) -> bool:
    return bool(arch.weight_files) and weights.find_weights(arch.name, ws.layout.weights).found


def config_form(ws: Workspace) -> config.TrainConfig:
    """The run settings, with weights availability for the chosen backbone; raises ValidationError."""
    name = ui.choice(st, ui.tr("train.arch"), list(zoo.ARCHES), "train_arch", arch_text)
    arch = zoo.ARCHES[name]
    has_weights = weights_note(ws, arch)
    cols = st.columns(6)
    epochs = cols[0].number_input(ui.tr("train.epochs"), 1, 500, DEFAULTS["epochs"], key="train_epochs")
    cols[1].selectbox(ui.tr("train.batch"), BATCHES, index=BATCHES.index(DEFAULTS["batch_size"]), key="train_batch")
    lr = DEFAULTS["lr"]
    cols[2].selectbox(ui.tr("train.lr"), LRS, index=LRS.index(lr), format_func=lambda v: f"{v:g}", key="train_lr")
    size = cols[3].selectbox(ui.tr("train.size"), SIZES, index=SIZES.index(arch.default_size), key=f"train_size_{name}")
    optimizer = config.OPTIMIZERS.index(DEFAULTS["optimizer"])
    cols[4].selectbox(ui.tr("train.optimizer"), config.OPTIMIZERS, index=optimizer, key="train_optimizer")
    ui.choice(
        cols[5],
        ui.tr("train.augment"),
        list(config.AUGMENTS),
        "train_augment",
        lambda k: ui.tr(f"train.augment.{k}"),
        index=config.AUGMENTS.index(DEFAULTS["augment"]),
        help=ui.tr("train.augment.help"),
    )
    st.caption(ui.tr("train.cost", params=_params(arch.params_m), gflops=f"{arch.gflops(size):.2f}", size=size))
    with st.expander(ui.tr("train.advanced"), icon=":material/tune:"):
        _advanced(name, int(epochs), has_weights)
    return current_config(ws)


def _advanced(arch: str, epochs: int, has_weights: bool) -> None:
    a = st.columns(4)
    b = st.columns(4)
    # one box per backbone: a tick left from a backbone with weights must not carry over to one without
    st.checkbox(ui.tr("train.pretrained"), value=has_weights, disabled=not has_weights, key=f"train_pretrained_{arch}")
    ui.choice(
        a[0],
        ui.tr("train.scheduler"),
        list(config.SCHEDULERS),
        "train_scheduler",
        lambda k: ui.tr(f"train.scheduler.{k}"),
    )
    a[1].number_input(ui.tr("train.warmup"), 0, epochs, min(1, epochs), key="train_warmup")
    decay = WEIGHT_DECAYS.index(DEFAULTS["weight_decay"])
    a[2].selectbox(
        ui.tr("train.weight_decay"), WEIGHT_DECAYS, index=decay, format_func=lambda v: f"{v:g}", key="train_wd"
    )
    a[3].slider(ui.tr("train.smoothing"), 0.0, 0.3, DEFAULTS["label_smoothing"], 0.05, key="train_smoothing")
    ui.choice(
        b[0], ui.tr("train.balance"), list(config.BALANCES), "train_balance", lambda k: ui.tr(f"train.balance.{k}")
    )
    b[1].number_input(ui.tr("train.freeze"), 0, epochs, DEFAULTS["freeze_epochs"], key="train_freeze")
    b[2].number_input(
        ui.tr("train.early_stop"),
        0,
        100,
        DEFAULTS["early_stop"],
        key="train_early_stop",
        help=ui.tr("train.early_stop.help"),
    )
    b[3].number_input(ui.tr("train.seed"), 0, 2**31 - 1, DEFAULTS["seed"], key="train_seed")


def current_config(ws: Workspace) -> config.TrainConfig:
    """The run settings as the form's widgets hold them now, read by their keys: what the form shows and what a
    start button's callback (which runs before the form is drawn again) queues come from this one place.
    Raises ValidationError."""
    state, lang = st.session_state, ui.lang()
    name = state.get(f"train_arch_{lang}", next(iter(zoo.ARCHES)))
    arch = zoo.get_arch(name)
    epochs = int(state.get("train_epochs", DEFAULTS["epochs"]))
    return config.TrainConfig(
        arch=name,
        epochs=epochs,
        batch_size=int(state.get("train_batch", DEFAULTS["batch_size"])),
        lr=float(state.get("train_lr", DEFAULTS["lr"])),
        image_size=int(state.get(f"train_size_{name}", arch.default_size)),
        optimizer=state.get("train_optimizer", DEFAULTS["optimizer"]),
        augment=state.get(f"train_augment_{lang}", DEFAULTS["augment"]),
        scheduler=state.get(f"train_scheduler_{lang}", DEFAULTS["scheduler"]),
        warmup_epochs=int(state.get("train_warmup", min(1, epochs))),
        weight_decay=float(state.get("train_wd", DEFAULTS["weight_decay"])),
        label_smoothing=float(state.get("train_smoothing", DEFAULTS["label_smoothing"])),
        balance=state.get(f"train_balance_{lang}", DEFAULTS["balance"]),
        freeze_epochs=int(state.get("train_freeze", DEFAULTS["freeze_epochs"])),
        early_stop=int(state.get("train_early_stop", DEFAULTS["early_stop"])),
        seed=int(state.get("train_seed", DEFAULTS["seed"])),
        pretrained=_has_weights(ws, arch) and bool(state.get(f"train_pretrained_{name}", True)),
    )


def _queue(ws: Workspace, me: auth.Actor, cfg: config.TrainConfig) -> None:
    job_id = jobs.submit(ws.conn, me, cfg)
    jobs.ensure_worker(ws)
    st.session_state.job_pick = job_id  # watch the job just started
    train_jobs.note(ws, "ok", job_id, "train.queued", {"id": job_id})  # shown until the job moves on


def _start(ws: Workspace, me: auth.Actor) -> None:
    """on_click of Start training: the settings as the form holds them now."""
    _queue(ws, me, current_config(ws))


def _start_quick(ws: Workspace, me: auth.Actor) -> None:
    """on_click of the quick model: the form's backbone, seed and weights, one pass at the probe's size."""
    cfg = current_config(ws)
    quick = config.TrainConfig(
        arch=cfg.arch,
        kind="quick",
        epochs=1,
        warmup_epochs=0,
        seed=cfg.seed,
        image_size=config.QUICK_IMAGE_SIZE,
        pretrained=cfg.pretrained,
    )
    _queue(ws, me, quick)


def start_buttons(ws: Workspace) -> None:
    left, right, _ = st.columns([1, 1, 2])
    left.button(
        ui.tr("train.start"),
        type="primary",
        icon=":material/play_arrow:",
        key="train_start",
        width="stretch",
        on_click=ui.act,
        args=(_start, ws),
    )
    right.button(
        ui.tr("train.quick"),
        icon=":material/bolt:",
        key="train_quick",
        help=ui.tr("train.quick.help"),
        width="stretch",
        on_click=ui.act,
        args=(_start_quick, ws),
    )


def _sweep(ws: Workspace, me: auth.Actor) -> None:
    """on_click of the sweep button: the grid and the form's settings as they are now."""
    batches, lrs = st.session_state.get("sweep_batches") or [], st.session_state.get("sweep_lrs") or []
    ids = jobs.submit_sweep(ws.conn, me, current_config(ws), sorted(batches), sorted(lrs))
    jobs.ensure_worker(ws)
    st.session_state.job_pick = ids[0]
    train_jobs.note(ws, "ok", ids[0], "train.sweep.queued", {"n": len(ids), "first": ids[0], "last": ids[-1]})


def sweep_panel(ws: Workspace) -> None:
    with st.expander(ui.tr("train.sweep"), icon=":material/grid_on:"):
        st.caption(ui.tr("train.sweep.help"))
        left, right = st.columns(2)
        batches = left.multiselect(ui.tr("train.batch"), BATCHES, default=[16, 32], key="sweep_batches")
        lrs = right.multiselect(
            ui.tr("train.lr"), LRS, default=[3e-4, 1e-3], format_func=lambda v: f"{v:g}", key="sweep_lrs"
        )
        count = len(batches) * len(lrs)
        st.button(
            ui.tr("train.sweep.start", n=count),
            key="sweep_start",
            disabled=count == 0,
            on_click=ui.act,
            args=(_sweep, ws),
        )


@ui.live(5.0)
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
        rows.append(
            {
                "#": j.id,
                ui.tr("train.batch"): j.config.batch_size,
                ui.tr("train.lr"): f"{j.config.lr:g}",
                ui.tr("train.col.status"): train_texts.status_text(j),
                ui.tr("train.m.best_epoch"): train_texts.figure(r.best_epoch if r else None),
                ui.tr("train.m.val_f1"): train_texts.figure(r.val_macro_f1 if r else None),
                ui.tr("train.m.test_f1"): train_texts.figure(r.test_macro_f1 if r else None),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
