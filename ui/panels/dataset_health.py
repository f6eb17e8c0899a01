"""The Dataset page's Balance & health tab: class balance, the health checks, and near-duplicate pairs side by
side with keep / trash / relabel."""

from __future__ import annotations

import streamlit as st

from core import auth, health, plots, store
from core.errors import CoreError
from core.workspace import Workspace
from ui import components as ui

PAIRS_SHOWN = 10  # pairs drawn at once: dealing with them brings up the next ones


def balance_and_health(ws: Workspace, me: auth.Actor, names: dict[str, str]) -> None:
    images = store.all_images(ws.conn)
    left, right = st.columns([3, 2])
    with left:
        st.subheader(ui.tr("health.balance"))
        split_names = {s: ui.tr(f"split.{s}") for s in store.SPLITS}
        fig = plots.class_balance(images, names, split_names, ui.tr("health.count"))
        st.plotly_chart(fig, width="stretch", key="balance_chart")
    report = health.check(images, list(names), ws.settings.min_class_images, health.kept_pairs(ws.conn))
    with right:
        st.subheader(ui.tr("health.panel"))
        rows = [
            ("health.unlabeled", len(report.unlabeled), report.unlabeled, {}),
            (
                "health.exact",
                sum(len(g) for g in report.identical_groups),
                [i for g in report.identical_groups for i in g],
                {},
            ),
            ("health.tiny", len(report.tiny), report.tiny, {"px": health.TINY_PX}),
            ("health.dark", len(report.dark), report.dark, {}),
            ("health.blurred", len(report.blurred), report.blurred, {}),
        ]
        for key, count, ids, extra in rows:
            with st.expander(f"{ui.tr(key, **extra)}: **{count:,}**", expanded=False):
                _thumb_strip(ws, ids)
        below = f" · {ui.tr('health.near_below')}" if report.near_pairs else ""
        st.markdown(f"{ui.tr('health.near')}: **{len(report.near_pairs):,}**{below}")
        few = ", ".join(f"{ui.plain(names.get(k, k))} ({v:,})" for k, v in report.few_classes.items())
        st.markdown(f"{ui.tr('health.few', n=ws.settings.min_class_images)}: **{few or ui.tr('health.none_few')}**")
    near_pairs(ws, me, names, report.near_pairs, {image.id: image for image in images})


def _thumb_strip(ws: Workspace, ids: list[int], limit: int = 24) -> None:
    if not ids:
        st.caption(ui.tr("health.ok"))
        return
    images, _ = store.query_images(ws.conn, store.ImageQuery(ids=tuple(ids[:limit])), 0, limit)
    st.image([ui.picture(ws, im) for im in images], width=96, caption=[f"#{im.id}" for im in images])


# ---- near-duplicate pairs ---------------------------------------------------------------------


def _act(ws: Workspace, me: auth.Actor, action, *args) -> None:
    """Button callback (through ui.act): one core call; its error (translated) or its success message flashes
    on the rerun."""
    try:
        message = action(ws, me, *args)
    except CoreError as exc:
        ui.flash_error(exc)
        return
    ui.flash_ok(message)


def _keep(ws: Workspace, me: auth.Actor, first: int, second: int) -> str:
    health.keep_pair(ws.conn, me, first, second)
    return ui.tr("health.kept", first=first, second=second)


def _relabel(ws: Workspace, me: auth.Actor, image_id: int, label: str, names: dict[str, str]) -> str:
    changed = store.relabel(ws.conn, me, [image_id], label, "manual")
    return ui.tr("dataset.relabelled" if changed else "dataset.unchanged", n=changed, label=ui.plain(names[label]))


def _trash(ws: Workspace, me: auth.Actor, image_id: int) -> str:
    return ui.tr("dataset.trashed", n=store.set_trashed(ws.conn, me, [image_id], True))


def near_pairs(
    ws: Workspace,
    me: auth.Actor,
    names: dict[str, str],
    pairs: list[tuple[int, int, int]],
    by_id: dict[int, store.Image],
) -> None:
    """Each pair side by side, each photo with its label and split; keep both, trash one, or relabel."""
    st.subheader(ui.tr("health.near_pairs", n=f"{len(pairs):,}"))
    if not pairs:
        st.caption(ui.tr("health.ok"))
        return
    st.caption(ui.tr("health.near_help"))
    for first, second, bits in pairs[:PAIRS_SHOWN]:
        with st.container(border=True, key=f"near_{first}_{second}"):
            cols = st.columns([5, 5, 2], vertical_alignment="center")
            for col, image in zip(cols, (by_id[first], by_id[second]), strict=False):
                with col:
                    _pair_photo(ws, me, names, image, f"{first}_{second}")
            with cols[2]:
                st.caption(ui.tr("health.near_bits", bits=bits))
                st.button(
                    ui.tr("health.keep"),
                    key=f"near_keep_{first}_{second}",
                    icon=":material/done_all:",
                    help=ui.tr("health.keep_help"),
                    disabled=not auth.can(me, "relabel"),
                    width="stretch",
                    on_click=ui.act,
                    args=(_act, ws, _keep, first, second),
                )
    if len(pairs) > PAIRS_SHOWN:
        st.caption(ui.tr("health.near_more", shown=PAIRS_SHOWN, total=f"{len(pairs):,}"))


def _pair_photo(ws: Workspace, me: auth.Actor, names: dict[str, str], image: store.Image, pair: str) -> None:
    photo, info = st.columns([2, 3])
    photo.image(ui.picture(ws, image), width="stretch")
    split = ui.tr(f"split.{image.split}") if image.split else ui.tr("common.none")
    info.markdown(f"**#{image.id}** · **{ui.label_md(ws, image.label)}** · {split}")
    if auth.can(me, "relabel"):
        with info.container(horizontal=True, gap="small"):
            for name, text in names.items():
                st.button(
                    ui.plain(text),
                    key=f"near_set_{pair}_{image.id}_{name}",
                    type="primary" if image.label == name else "secondary",
                    on_click=ui.act,
                    args=(_act, ws, _relabel, image.id, name, names),
                )
    if auth.can(me, "delete"):
        info.button(
            ui.tr("health.trash_one", id=image.id),
            key=f"near_trash_{pair}_{image.id}",
            icon=":material/delete:",
            on_click=ui.act,
            args=(_act, ws, _trash, image.id),
        )
