"""Dataset page: add photos, browse and (re)label them, balance and health, splits, export, trash."""

from __future__ import annotations

import streamlit as st

from core import auth, store
from core.errors import CoreError
from ui import components as ui
from ui.panels import dataset as panels
from ui.panels import dataset_health, dataset_photo

ws = ui.workspace()
me = ui.actor()
names = ui.label_names(ws)

st.title(ui.tr("dataset.title"))
ui.flash()

summary = store.stats(ws.conn)
cols = st.columns(len(names) + 2)
cols[0].metric(ui.tr("dataset.total"), f"{summary['total']:,}")
for col, (name, text) in zip(cols[1:], names.items(), strict=False):
    col.metric(ui.plain(text), f"{summary['by_label'].get(name, 0):,}")
cols[-1].metric(ui.tr("common.unlabeled"), f"{summary['unlabeled']:,}")

if auth.can(me, "upload"):
    panels.upload_panel(ws, me, names)

tab_names = ["dataset.tab.gallery", "dataset.tab.balance", "dataset.tab.splits"]
if auth.can(me, "restore"):
    tab_names.append("dataset.tab.trash")
# the gallery always runs (its filters and page survive a tab switch); the other tabs run only when open,
# so opening the page costs no chart, health scan or trash listing
tabs = st.tabs([ui.tr(key) for key in tab_names], key="dataset_tab", on_change="rerun")

with tabs[0]:
    query = panels.gallery_filters(ws, names)
    page_size = st.session_state.get("page_size", 24)
    images, total = store.query_images(ws.conn, query, 0, 1)
    pages = max(1, -(-total // page_size))
    page = min(st.session_state.get("gallery_page", 1), pages)
    images, total = store.query_images(ws.conn, query, (page - 1) * page_size, page_size)
    dataset_photo.open_photo_panel(ws, me, names, query)
    dataset_photo.selection_bar(ws, me, names, query, [im.id for im in images], total)
    if not images:
        st.info(ui.tr("dataset.empty"))
    else:
        st.caption(
            ui.tr(
                "dataset.showing",
                first=f"{(page - 1) * page_size + 1:,}",
                last=f"{(page - 1) * page_size + len(images):,}",
                total=f"{total:,}",
            )
        )
        grid = st.columns(6)
        for index, image in enumerate(images):
            with grid[index % 6]:
                if ui.image_card(ws, image):
                    st.session_state.open_id = image.id
                    st.rerun()
        nav = st.columns([1, 1, 4])
        nav[0].number_input(ui.tr("dataset.page"), 1, pages, page, key="gallery_page")
        nav[1].selectbox(ui.tr("dataset.filter.page_size"), [12, 24, 48, 96], index=1, key="page_size")

if tabs[1].open:
    with tabs[1]:
        dataset_health.balance_and_health(ws, me, names)

if tabs[2].open:
    with tabs[2]:
        try:
            panels.split_settings(ws, me, names)
            panels.export_panel(ws, me)
        except CoreError as exc:
            ui.show_error(exc)

if len(tabs) > 3 and tabs[3].open:
    with tabs[3]:
        panels.trash_panel(ws, me)
