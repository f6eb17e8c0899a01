"""The Dataset page's panels (upload, filters, open photo, selection, health, splits, export, trash).
Each reads its widgets, calls one core function per action and renders the result."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core import auth, health, ingest, plots, store
from core.errors import CoreError
from core.workspace import Workspace
from pages import components as ui

UPLOAD_TYPES = ["jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp", "zip"]


def upload_panel(ws: Workspace, me: auth.Actor, names: dict[str, str]) -> None:
    nonce = st.session_state.setdefault("upload_nonce", 0)
    with st.expander(ui.tr("dataset.upload.header"), expanded=store.stats(ws.conn)["total"] == 0):
        st.caption(ui.tr("dataset.upload.limits", mb=ws.settings.max_file_mb,
                         mp=ws.settings.max_pixels // 1_000_000))
        files = st.file_uploader(ui.tr("dataset.upload.files"), type=UPLOAD_TYPES,
                                 accept_multiple_files=True, key=f"upload_files_{nonce}")
        folder = st.file_uploader(ui.tr("dataset.upload.folder"), type=UPLOAD_TYPES,
                                  accept_multiple_files="directory", key=f"upload_dir_{nonce}")
        options = [None, *names]
        label = st.selectbox(ui.tr("dataset.upload.label"), options, key="upload_label",
                             format_func=lambda v: ui.tr("dataset.upload.label_auto") if v is None else names[v])
        chosen = [*(files or []), *(folder or [])]
        if st.button(ui.tr("dataset.upload.button", n=len(chosen)), type="primary",
                     disabled=not chosen, key="upload_go"):
            try:
                report = ingest.import_uploads(ws, me, [(f.name, f.getvalue()) for f in chosen], label)
            except CoreError as exc:
                ui.show_error(exc)
                return
            st.session_state.upload_report = report
            st.session_state.upload_nonce = nonce + 1  # empties the drop zones
            st.rerun()
    report = st.session_state.get("upload_report")
    if report is not None:
        _report_table(report)


def _report_table(report: ingest.ImportReport) -> None:
    st.success(ui.tr("dataset.upload.summary", imported=report.count("imported"),
                     duplicates=report.count("duplicate"), rejected=report.count("rejected")))
    rows = [{
        ui.tr("dataset.upload.col_file"): o.file,
        ui.tr("dataset.upload.col_status"): ui.tr(f"dataset.upload.{o.status}"),
        ui.tr("dataset.upload.col_detail"): (ui.tr(o.key, **o.detail) if o.key else f"#{o.image_id}"),
    } for o in report.outcomes]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=min(400, 38 + 35 * len(rows)))


def gallery_filters(ws: Workspace, names: dict[str, str]) -> store.ImageQuery:
    cols = st.columns([3, 2, 2, 3])
    label_opts = [*names, "__none__"]
    chosen = cols[0].multiselect(ui.tr("dataset.filter.labels"), label_opts, key="f_labels",
                                 placeholder=ui.tr("common.any"),
                                 format_func=lambda v: ui.tr("common.unlabeled") if v == "__none__" else names[v])
    splits = cols[1].multiselect(ui.tr("dataset.filter.splits"), list(store.SPLITS), key="f_splits",
                                 placeholder=ui.tr("common.any"),
                                 format_func=lambda v: ui.tr(f"split.{v}"))
    sources = cols[2].multiselect(ui.tr("dataset.filter.sources"), list(store.IMAGE_SOURCES), key="f_sources",
                                  placeholder=ui.tr("common.any"),
                                  format_func=lambda v: ui.tr(f"source.{v}"))
    dates = cols[3].date_input(ui.tr("dataset.filter.dates"), value=(), key="f_dates", max_value=date.today())
    labels = tuple(v for v in chosen if v != "__none__")
    return store.ImageQuery(
        labels=labels or None,
        unlabeled="__none__" in chosen,
        splits=tuple(splits) or None,
        sources=tuple(sources) or None,
        added_from=dates[0].isoformat() if len(dates) >= 1 else None,
        added_to=dates[1].isoformat() if len(dates) == 2 else None,
    )


def _relabel(ws: Workspace, me: auth.Actor, ids: list[int], label: str, names: dict[str, str]) -> None:
    """Button callback: runs before the rerun, so it may clear the selection checkboxes."""
    try:
        changed = store.relabel(ws.conn, me, ids, label, "manual")
    except CoreError as exc:
        st.session_state.flash = ("error", ui.tr("common.error", message=str(exc)))
        return
    ui.clear_selection(ids)
    key = "dataset.relabelled" if changed else "dataset.unchanged"
    st.session_state.flash = ("success", ui.tr(key, n=changed, label=names[label]))


def _trash(ws: Workspace, me: auth.Actor, ids: list[int], trashed: bool) -> None:
    try:
        n = store.set_trashed(ws.conn, me, ids, trashed)
    except CoreError as exc:
        st.session_state.flash = ("error", ui.tr("common.error", message=str(exc)))
        return
    ui.clear_selection(ids)
    if trashed and st.session_state.get("open_id") in ids:
        st.session_state.open_id = None
    st.session_state.flash = ("success", ui.tr("dataset.trashed" if trashed else "trash.restored", n=n))


def open_photo_panel(ws: Workspace, me: auth.Actor, names: dict[str, str]) -> None:
    """The opened photo, large, with its metadata, label buttons (keys 1, 2, 3…) and history."""
    image_id = st.session_state.get("open_id")
    if not image_id:
        return
    image = store.get_image(ws.conn, image_id)
    with st.container(border=True, key="open_photo"):
        left, right = st.columns([1, 1])
        left.image(str(ws.layout.cached(image.sha256)), width="stretch")
        with right:
            st.subheader(ui.tr("dataset.detail.title", id=image.id))
            st.markdown(
                f"**{ui.tr('dataset.detail.label')}:** {ui.label_text(ws, image.label)}  \n"
                f"**{ui.tr('dataset.detail.name')}:** {image.display_name}  \n"
                f"**{ui.tr('dataset.detail.size')}:** {image.width}×{image.height} px, {image.bytes / 1024:.0f} KB  \n"
                f"**{ui.tr('dataset.detail.split')}:** {ui.tr('split.' + (image.split or 'train'))}  \n"
                f"**{ui.tr('dataset.detail.added')}:** {ui.local_time(image.added_at)} · {image.added_by}  \n"
                f"**{ui.tr('dataset.detail.source')}:** {ui.tr('source.' + image.source)}  \n"
                f"**{ui.tr('dataset.detail.quality')}:** {image.brightness:.0f} / {image.sharpness:.0f}  \n"
                f"**{ui.tr('dataset.detail.sha')}:** `{image.sha256[:16]}…`"
            )
            if auth.can(me, "relabel"):
                buttons = st.columns(len(names))
                for n, (name, text) in enumerate(names.items(), start=1):
                    buttons[n - 1].button(
                        text, key=f"open_set_{name}", width="stretch",
                        type="primary" if image.label == name else "secondary",
                        shortcut=str(n) if n <= 9 else None,
                        on_click=_relabel, args=(ws, me, [image.id], name, names))
                st.caption(ui.tr("dataset.detail.shortcut", keys="/".join(str(i + 1) for i in range(len(names)))))
            if st.button(ui.tr("dataset.detail.close"), key="open_close"):
                st.session_state.open_id = None
                st.rerun()
        st.markdown(f"**{ui.tr('dataset.detail.history')}**")
        ui.history_table(ws, image.id)


def selection_bar(ws: Workspace, me: auth.Actor, names: dict[str, str], page_ids: list[int]) -> None:
    if not auth.can(me, "relabel"):
        return
    chosen = ui.selected_ids(page_ids)
    cols = st.columns([2, 2, *([1] * len(names)), 2])
    cols[0].button(ui.tr("dataset.select_page"), key="select_page", on_click=_select_all, args=(page_ids,))
    cols[1].markdown(ui.tr("dataset.selected", n=len(chosen)) + " → " + ui.tr("dataset.set_label"))
    for col, (name, text) in zip(cols[2:], names.items(), strict=False):
        col.button(text, key=f"bulk_{name}", disabled=not chosen, width="stretch",
                   on_click=_relabel, args=(ws, me, chosen, name, names))
    if auth.can(me, "delete"):
        cols[-1].button(ui.tr("dataset.trash_selected"), key="bulk_trash", disabled=not chosen,
                        on_click=_trash, args=(ws, me, chosen, True))


def _select_all(ids: list[int]) -> None:
    for i in ids:
        st.session_state[f"sel_{i}"] = True


def balance_and_health(ws: Workspace, names: dict[str, str]) -> None:
    images = store.all_images(ws.conn)
    left, right = st.columns([3, 2])
    with left:
        st.subheader(ui.tr("health.balance"))
        split_names = {s: ui.tr(f"split.{s}") for s in store.SPLITS}
        fig = plots.class_balance(images, names, split_names, ui.tr("health.count"))
        st.plotly_chart(fig, width="stretch", key="balance_chart")
    report = health.check(images, list(names), ws.settings.min_class_images)
    with right:
        st.subheader(ui.tr("health.panel"))
        rows = [
            ("health.unlabeled", len(report.unlabeled), report.unlabeled, {}),
            ("health.exact", sum(len(g) for g in report.identical_groups),
             [i for g in report.identical_groups for i in g], {}),
            ("health.near", len(report.near_pairs), sorted({i for p in report.near_pairs for i in p[:2]}), {}),
            ("health.tiny", len(report.tiny), report.tiny, {"px": health.TINY_PX}),
            ("health.dark", len(report.dark), report.dark, {}),
            ("health.blurred", len(report.blurred), report.blurred, {}),
        ]
        for key, count, ids, extra in rows:
            with st.expander(f"{ui.tr(key, **extra)}: **{count:,}**", expanded=False):
                _thumb_strip(ws, ids)
        few = ", ".join(f"{names.get(k, k)} ({v})" for k, v in report.few_classes.items())
        st.markdown(f"{ui.tr('health.few', n=ws.settings.min_class_images)}: "
                    f"**{few or ui.tr('health.none_few')}**")


def _thumb_strip(ws: Workspace, ids: list[int], limit: int = 24) -> None:
    if not ids:
        st.caption(ui.tr("health.ok"))
        return
    images, _ = store.query_images(ws.conn, store.ImageQuery(ids=tuple(ids[:limit])), 0, limit)
    st.image([str(ws.layout.thumb(im.sha256)) for im in images], width=96,
             caption=[f"#{im.id}" for im in images])


def split_settings(ws: Workspace, me: auth.Actor, names: dict[str, str]) -> None:
    st.subheader(ui.tr("splits.header"))
    ratios, locked = store.split_settings(ws.conn, ws.settings.split_ratios)
    cols = st.columns(4)
    train = cols[0].number_input(ui.tr("splits.train"), 5, 95, round(ratios[0] * 100), key="split_train")
    val = cols[1].number_input(ui.tr("splits.val"), 0, 90, round(ratios[1] * 100), key="split_val")
    cols[2].metric(ui.tr("splits.test"), f"{max(0, 100 - train - val)}%")
    lock = cols[3].checkbox(ui.tr("splits.lock"), value=locked, key="split_lock", help=ui.tr("splits.lock_help"))
    if train + val > 100:
        st.warning(ui.tr("splits.bad_sum"))
    elif st.button(ui.tr("splits.apply"), disabled=not auth.can(me, "split"), key="split_apply"):
        moved = store.save_split_settings(ws.conn, me, (train / 100, val / 100, (100 - train - val) / 100), lock)
        st.success(ui.tr("splits.moved", n=moved))
    counts = store.stats(ws.conn)
    images = store.all_images(ws.conn)
    table = pd.DataFrame(
        [[sum(1 for im in images if im.label == name and im.split == split) for split in store.SPLITS]
         for name in names],
        index=list(names.values()),
        columns=[ui.tr(f"split.{split}") for split in store.SPLITS],
    )
    table.index.name = ui.tr("splits.table_label")
    st.dataframe(table, width="content")
    st.caption(ui.tr("splits.unlabeled_note", n=counts["unlabeled"]))


def export_panel(ws: Workspace, me: auth.Actor) -> None:
    st.subheader(ui.tr("export.header"))
    st.caption(ui.tr("export.help"))
    if st.button(ui.tr("export.button"), disabled=not auth.can(me, "export"), key="export_go"):
        st.session_state.export_path = str(ingest.export_zip(ws, me))
    path = st.session_state.get("export_path")
    if path:
        with open(path, "rb") as handle:
            data = handle.read()
        name = path.rsplit("/", 1)[-1]
        st.download_button(ui.tr("export.download", name=name, mb=len(data) / 2**20), data,
                           file_name=name, mime="application/zip", key="export_dl")


def trash_panel(ws: Workspace, me: auth.Actor) -> None:
    images, total = store.query_images(ws.conn, store.ImageQuery(trashed=True), 0, 96)
    if not total:
        st.info(ui.tr("trash.empty"))
        return
    ids = [im.id for im in images]
    st.button(ui.tr("trash.restore"), key="trash_restore", disabled=not ui.selected_ids(ids),
              on_click=_trash, args=(ws, me, ui.selected_ids(ids), False))
    grid = st.columns(6)
    for index, image in enumerate(images):
        with grid[index % 6]:
            ui.image_card(ws, image, openable=False)
