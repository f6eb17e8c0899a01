"""The Dataset page's panels (upload, filters, splits, export, trash; the open photo and the selection are in
dataset_photo, the health tab in dataset_health). Each reads its widgets, calls one core function per action and
renders the result."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core import auth, dataset_export, demo, i18n, ingest, store
from core.workspace import Workspace
from ui import components as ui
from ui.panels import dataset_photo

UPLOAD_TYPES = ["jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp", "zip"]


def upload_limit_mb(ws: Workspace) -> int:
    """Megabytes per uploaded file: the lower of core's limit and Streamlit's server.maxUploadSize, so the caption
    and the drop zone say the same."""
    return max(1, min(ws.settings.max_file_mb, int(st.get_option("server.maxUploadSize"))))


def upload_panel(ws: Workspace, me: auth.Actor, names: dict[str, str]) -> None:
    """Drop photos, zips or a folder; choose a label and a split (automatic or one kept for good). Both choices go
    back to automatic after each import, so a choice is never silently reused for the next drop."""
    nonce = st.session_state.setdefault("upload_nonce", 0)
    limit = upload_limit_mb(ws)
    with st.expander(ui.tr("dataset.upload.header"), expanded=store.stats(ws.conn)["total"] == 0):
        st.caption(ui.tr("dataset.upload.limits", mb=f"{limit:,}", mp=ws.settings.max_pixels // 1_000_000))
        files = st.file_uploader(
            ui.tr("dataset.upload.files"),
            type=UPLOAD_TYPES,
            max_upload_size=limit,
            accept_multiple_files=True,
            key=f"upload_files_{nonce}",
        )
        folder = st.file_uploader(
            ui.tr("dataset.upload.folder"),
            type=UPLOAD_TYPES,
            max_upload_size=limit,
            accept_multiple_files="directory",
            key=f"upload_dir_{nonce}",
        )
        left, right = st.columns(2)
        ui.choice(
            left,
            ui.tr("dataset.upload.label"),
            [None, *names],
            f"upload_label_{nonce}",
            lambda v: ui.tr("dataset.upload.label_auto") if v is None else names[v],
        )
        _split_choice(right, nonce)
        chosen = [*(files or []), *(folder or [])]
        st.button(
            ui.tr("dataset.upload.button", n=len(chosen)),
            type="primary",
            disabled=not chosen,
            key="upload_go",
            on_click=ui.act,
            args=(_import, ws),
        )
    report = st.session_state.get("upload_report")
    if report is not None:
        _report_table(report)


def _import(ws: Workspace, me: auth.Actor) -> None:
    """on_click of the import button: the files, label and split the drop zones hold now; the report is shown
    under the drop zones, which start empty again (label and split back to automatic)."""
    state = st.session_state
    nonce = state.get("upload_nonce", 0)
    chosen = [*(state.get(f"upload_files_{nonce}") or []), *(state.get(f"upload_dir_{nonce}") or [])]
    label = state.get(f"upload_label_{nonce}_{ui.lang()}")
    split = state.get(f"upload_split_{nonce}_{ui.lang()}")
    state.upload_report = ingest.import_uploads(ws, me, [(f.name, f.getvalue()) for f in chosen], label, split=split)
    state.upload_nonce = nonce + 1


def _split_choice(where, nonce: int) -> str | None:
    """Automatic, train, validation or test, as radio buttons. Like ui.choice, the key carries the language (a
    keyed radio keeps the option texts it first drew and shows no choice after a switch) and the choice made
    under the other language is carried over."""
    options = [None, *store.SPLITS]
    texts = {None: ui.tr("dataset.upload.split_auto"), **{name: ui.tr(f"split.{name}") for name in store.SPLITS}}
    index = 0
    for code in i18n.LANGUAGES:
        earlier = st.session_state.get(f"upload_split_{nonce}_{code}")
        if code != ui.lang() and earlier in options:
            index = options.index(earlier)
    return where.radio(
        ui.tr("dataset.upload.split"),
        options,
        index=index,
        horizontal=True,
        key=f"upload_split_{nonce}_{ui.lang()}",
        help=ui.tr("dataset.upload.split_help"),
        format_func=texts.__getitem__,
    )


def _report_table(report: ingest.ImportReport) -> None:
    st.success(
        ui.tr(
            "dataset.upload.summary",
            imported=f"{report.count('imported'):,}",
            duplicates=f"{report.count('duplicate'):,}",
            rejected=f"{report.count('rejected'):,}",
            skipped=f"{report.count('skipped'):,}",
        )
    )
    st.caption(ui.tr("dataset.upload.reset"))
    rows = [
        {
            ui.tr("dataset.upload.col_file"): o.file,
            ui.tr("dataset.upload.col_status"): ui.tr(f"dataset.upload.{o.status}"),
            ui.tr("dataset.upload.col_detail"): _outcome_detail(o),
        }
        for o in report.outcomes
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=min(400, 38 + 35 * len(rows)))


def _outcome_detail(outcome: ingest.FileOutcome) -> str:
    if not outcome.key:
        return f"#{outcome.image_id}" if outcome.image_id is not None else ui.tr("common.none")
    detail = dict(outcome.detail)
    if "split" in detail:  # a split name is shown in the user's language
        detail["split"] = ui.tr(f"split.{detail['split']}") if detail["split"] else ui.tr("common.none")
    return ui.tr(outcome.key, **detail)


def gallery_filters(ws: Workspace, names: dict[str, str]) -> store.ImageQuery:
    cols = st.columns([3, 2, 2, 3])
    label_opts = [*names, "__none__"]
    chosen = cols[0].multiselect(
        ui.tr("dataset.filter.labels"),
        label_opts,
        key="f_labels",
        placeholder=ui.tr("common.any"),
        format_func=lambda v: ui.tr("common.unlabeled") if v == "__none__" else names[v],
    )
    splits = cols[1].multiselect(
        ui.tr("dataset.filter.splits"),
        list(store.SPLITS),
        key="f_splits",
        placeholder=ui.tr("common.any"),
        format_func=lambda v: ui.tr(f"split.{v}"),
    )
    sources = cols[2].multiselect(
        ui.tr("dataset.filter.sources"),
        list(store.IMAGE_SOURCES),
        key="f_sources",
        placeholder=ui.tr("common.any"),
        format_func=lambda v: ui.tr(f"source.{v}"),
    )
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


def split_settings(ws: Workspace, me: auth.Actor, names: dict[str, str]) -> None:
    st.subheader(ui.tr("splits.header"))
    ratios, locked = store.split_settings(ws.conn, ws.settings.split_ratios)
    cols = st.columns(4)
    train = cols[0].number_input(ui.tr("splits.train"), 5, 95, round(ratios[0] * 100), key="split_train")
    val = cols[1].number_input(ui.tr("splits.val"), 0, 90, round(ratios[1] * 100), key="split_val")
    cols[2].metric(ui.tr("splits.test"), f"{max(0, 100 - train - val)}%")
    cols[3].checkbox(ui.tr("splits.lock"), value=locked, key="split_lock", help=ui.tr("splits.lock_help"))
    if train + val > 100:
        st.warning(ui.tr("splits.bad_sum"))
    else:
        st.button(
            ui.tr("splits.apply"),
            disabled=not auth.can(me, "split"),
            key="split_apply",
            on_click=ui.act,
            args=(_apply_splits, ws),
        )
    counts = store.stats(ws.conn)
    cells = store.label_split_counts(ws.conn)
    table = pd.DataFrame(
        [[cells.get((name, split), 0) for split in store.SPLITS] for name in names],
        index=list(names.values()),
        columns=[ui.tr(f"split.{split}") for split in store.SPLITS],
    )
    table.index.name = ui.tr("splits.table_label")
    st.dataframe(table, width="content")
    st.caption(ui.tr("splits.unlabeled_note", n=counts["unlabeled"]))


def _apply_splits(ws: Workspace, me: auth.Actor) -> None:
    """on_click of the apply button: the ratios and lock as the inputs hold them now."""
    train, val = st.session_state["split_train"], st.session_state["split_val"]
    ratios = (train / 100, val / 100, (100 - train - val) / 100)
    moved = store.save_split_settings(ws.conn, me, ratios, bool(st.session_state.get("split_lock")))
    ui.flash_ok(ui.tr("splits.moved", n=moved))


def _export(ws: Workspace, me: auth.Actor) -> None:
    st.session_state.export_path = str(dataset_export.export_zip(ws, me))


def export_panel(ws: Workspace, me: auth.Actor) -> None:
    st.subheader(ui.tr("export.header"))
    st.caption(ui.tr("export.help"))
    st.button(
        ui.tr("export.button"),
        disabled=not auth.can(me, "export"),
        key="export_go",
        on_click=ui.act,
        args=(_export, ws),
    )
    path = st.session_state.get("export_path")
    if path:
        with open(path, "rb") as handle:
            data = handle.read()
        name = path.rsplit("/", 1)[-1]
        st.download_button(
            ui.tr("export.download", name=name, mb=len(data) / 2**20),
            data,
            file_name=name,
            mime="application/zip",
            key="export_dl",
        )


def _trash_demo(ws: Workspace, me: auth.Actor) -> None:
    st.session_state.demo_confirm = False  # asked again next time, whatever the outcome
    moved = demo.trash_all(ws.conn, me)
    ui.flash_ok(ui.tr("dataset.demo.done", n=f"{moved:,}"))


def demo_panel(ws: Workspace, me: auth.Actor) -> None:
    """Admins: all demo photos to the trash in one action, after a confirmation."""
    _, count = store.query_images(ws.conn, store.ImageQuery(sources=("demo",)), 0, 0)
    if not count or not auth.can(me, "delete"):
        return
    st.subheader(ui.tr("dataset.demo.header"))
    st.caption(ui.tr("dataset.demo.help"))
    if not st.session_state.get("demo_confirm"):
        st.button(
            ui.tr("dataset.demo.trash", n=f"{count:,}"),
            key="demo_trash",
            icon=":material/delete_sweep:",
            on_click=lambda: st.session_state.update(demo_confirm=True),
        )
        return
    st.warning(ui.tr("dataset.demo.confirm", n=f"{count:,}"))
    with st.container(horizontal=True):
        st.button(
            ui.tr("dataset.demo.yes", n=f"{count:,}"),
            key="demo_trash_yes",
            type="primary",
            on_click=ui.act,
            args=(_trash_demo, ws),
        )
        st.button(
            ui.tr("dataset.demo.cancel"),
            key="demo_trash_no",
            on_click=lambda: st.session_state.update(demo_confirm=False),
        )
    st.divider()


def trash_panel(ws: Workspace, me: auth.Actor) -> None:
    demo_panel(ws, me)
    images, total = store.query_images(ws.conn, store.ImageQuery(trashed=True), 0, 96)
    if not total:
        st.info(ui.tr("trash.empty"))
        return
    ids = [im.id for im in images]
    st.button(
        ui.tr("trash.restore"),
        key="trash_restore",
        disabled=not ui.selected_ids(ids),
        on_click=ui.act,
        args=(dataset_photo.restore_ticked, ws, ids),
    )
    grid = st.columns(6)
    for index, image in enumerate(images):
        with grid[index % 6]:
            ui.image_card(ws, image, openable=False)
