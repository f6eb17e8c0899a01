"""The Dataset gallery's open photo (label keys that label and move on through the filter, with a way back) and
its selection bar (this page, or every photo that matches the filter, for bulk labels and the trash)."""

from __future__ import annotations

import streamlit as st

from core import auth, store
from core.errors import CoreError, NotFoundError
from core.workspace import Workspace
from ui import components as ui


def _untick(ids: list[int]) -> None:
    """Untick the selection boxes of these photos. Set to False, not removed: a removed key would come back
    ticked from the browser on the rerun."""
    for i in ids:
        if f"sel_{i}" in st.session_state:
            st.session_state[f"sel_{i}"] = False


def _relabel(ws: Workspace, me: auth.Actor, ids: list[int], label: str, names: dict[str, str]) -> bool:
    """Button callback: runs before the rerun, so it may clear the selection checkboxes. False on an error."""
    try:
        changed = store.relabel(ws.conn, me, ids, label, "manual")
    except CoreError as exc:
        ui.flash_error(exc)
        return False
    _untick(ids)
    st.session_state.pop("sel_all", None)
    key = "dataset.relabelled" if changed else "dataset.unchanged"
    ui.flash_ok(ui.tr(key, n=changed, label=ui.plain(names[label])))
    return True


def _bulk_relabel(
    ws: Workspace, me: auth.Actor, query: store.ImageQuery, page_ids: list[int], label: str, names: dict[str, str]
) -> None:
    """The label buttons under the grid: the selection is read when the button is pressed, from the boxes as the
    browser shows them then, not as they were when the button was drawn (a box ticked just before the press)."""
    chosen = chosen_ids(ws, query, page_ids)[0]
    if _some(chosen):
        _relabel(ws, me, chosen, label, names)


def _bulk_trash(ws: Workspace, me: auth.Actor, query: store.ImageQuery, page_ids: list[int]) -> None:
    chosen = chosen_ids(ws, query, page_ids)[0]
    if _some(chosen):
        set_trashed(ws, me, chosen, True)


def restore_ticked(ws: Workspace, me: auth.Actor, ids: list[int]) -> None:
    """The trash's restore button: the boxes ticked when it is pressed."""
    chosen = ui.selected_ids(ids)
    if _some(chosen):
        set_trashed(ws, me, chosen, False)


def _some(chosen: list[int]) -> bool:
    """False, and says so, when the last box was unticked just before the press: nothing to do, nothing logged."""
    if not chosen:
        ui.flash_warning(ui.tr("dataset.nothing_selected"))
    return bool(chosen)


def set_trashed(ws: Workspace, me: auth.Actor, ids: list[int], trashed: bool) -> None:
    """Button callback: move photos to the trash or restore them; the outcome flashes on the rerun."""
    try:
        n = store.set_trashed(ws.conn, me, ids, trashed)
    except CoreError as exc:
        ui.flash_error(exc)
        return
    _untick(ids)
    st.session_state.pop("sel_all", None)
    if trashed and st.session_state.get("open_id") in ids:
        st.session_state.open_id = None
    ui.flash_ok(ui.tr("dataset.trashed" if trashed else "trash.restored", n=n))


# ---- the open photo: a stream through the filter ----------------------------------------------


def _label_and_next(
    ws: Workspace, me: auth.Actor, image_id: int, label: str, names: dict[str, str], query: store.ImageQuery
) -> None:
    """Key 1, 2, 3…: label the open photo, then open the next one in the filter. The next one is found before
    the label changes, since labelling may take the photo out of the filter (say, 'unlabeled')."""
    following = store.neighbour(ws.conn, query, image_id, 1)
    if _relabel(ws, me, [image_id], label, names):
        _open_next(image_id, following)


def _open_next(current: int, following: int | None) -> None:
    if following is None:
        kind, text = st.session_state.get("flash", ("ok", ""))
        st.session_state.flash = (kind, f"{text} {ui.tr('dataset.detail.last')}".strip())
        return
    st.session_state.setdefault("open_trail", []).append(current)  # what "previous" goes back to
    st.session_state.open_id = following


def _skip(ws: Workspace, image_id: int, query: store.ImageQuery) -> None:
    _open_next(image_id, store.neighbour(ws.conn, query, image_id, 1))


def _back(ws: Workspace, image_id: int, query: store.ImageQuery) -> None:
    """The photo opened before this one (even when labelling took it out of the filter), else the previous one
    in the filter."""
    trail = st.session_state.get("open_trail") or []
    while trail:
        candidate = trail.pop()
        if candidate != image_id and store.query_ids(ws.conn, store.ImageQuery(ids=(candidate,))):
            st.session_state.open_id = candidate
            return
    previous = store.neighbour(ws.conn, query, image_id, -1)
    if previous is not None:
        st.session_state.open_id = previous


def _close() -> None:
    st.session_state.open_id = None
    st.session_state.open_trail = []


def _details(ws: Workspace, image: store.Image) -> str:
    none = ui.tr("common.none")
    return (
        f"**{ui.tr('dataset.detail.label')}:** {ui.label_md(ws, image.label)}  \n"
        f"**{ui.tr('dataset.detail.name')}:** {ui.plain(image.display_name)}  \n"
        f"**{ui.tr('dataset.detail.size')}:** {image.width}×{image.height} px, {image.bytes / 1024:,.0f} KB  \n"
        f"**{ui.tr('dataset.detail.split')}:** {ui.tr('split.' + image.split) if image.split else none}  \n"
        f"**{ui.tr('dataset.detail.added')}:** {ui.local_time(image.added_at)} · {ui.plain(image.added_by)}  \n"
        f"**{ui.tr('dataset.detail.source')}:** {ui.tr('source.' + image.source)}  \n"
        f"**{ui.tr('dataset.detail.quality')}:** {image.brightness:.0f} / {image.sharpness:.0f}  \n"
        f"**{ui.tr('dataset.detail.sha')}:** `{image.sha256[:16]}…`"
    )


def open_photo_panel(ws: Workspace, me: auth.Actor, names: dict[str, str], query: store.ImageQuery) -> None:
    """The opened photo, large, with its metadata, label keys (1, 2, 3… in the label set's order: label and go
    on), previous / next / close, and its label history."""
    image_id = st.session_state.get("open_id")
    if not image_id:
        return
    try:
        image = store.get_image(ws.conn, image_id)
    except NotFoundError:
        _close()
        return
    has_back = bool(st.session_state.get("open_trail")) or store.neighbour(ws.conn, query, image.id, -1) is not None
    has_next = store.neighbour(ws.conn, query, image.id, 1) is not None
    with st.container(border=True, key="open_photo"):
        left, right = st.columns([1, 1])
        left.image(ui.picture(ws, image, "cached"), width="stretch")
        with right:
            st.subheader(ui.tr("dataset.detail.title", id=image.id))
            st.markdown(_details(ws, image))
            if auth.can(me, "relabel"):
                buttons = st.columns(len(names))
                for n, (name, text) in enumerate(names.items(), start=1):
                    buttons[n - 1].button(
                        ui.plain(text),
                        key=f"open_set_{name}",
                        width="stretch",
                        type="primary" if image.label == name else "secondary",
                        shortcut=str(n) if n <= 9 else None,
                        on_click=ui.act,
                        args=(_label_and_next, ws, image.id, name, names, query),
                    )
                st.caption(
                    ui.tr("dataset.detail.shortcut", keys="/".join(str(i + 1) for i in range(min(9, len(names)))))
                )
            nav = st.columns(3)
            nav[0].button(
                ui.tr("dataset.detail.previous"),
                key="open_prev",
                icon=":material/arrow_back:",
                shortcut="Left",
                disabled=not has_back,
                width="stretch",
                on_click=_back,
                args=(ws, image.id, query),
            )
            nav[1].button(
                ui.tr("dataset.detail.next"),
                key="open_next",
                icon=":material/arrow_forward:",
                shortcut="Right",
                disabled=not has_next,
                width="stretch",
                on_click=_skip,
                args=(ws, image.id, query),
            )
            nav[2].button(ui.tr("dataset.detail.close"), key="open_close", width="stretch", on_click=_close)
        st.markdown(f"**{ui.tr('dataset.detail.history')}**")
        ui.history_table(ws, image.id)


# ---- selection: this page, or everything that matches the filter -------------------------------


def _select_page(ids: list[int]) -> None:
    for i in ids:
        st.session_state[f"sel_{i}"] = True


def _select_filter(query: store.ImageQuery, page_ids: list[int]) -> None:
    st.session_state.sel_all = repr(query)  # for this filter only: a new filter drops it
    _select_page(page_ids)


def _select_none(page_ids: list[int]) -> None:
    st.session_state.pop("sel_all", None)
    _untick(page_ids)


def chosen_ids(ws: Workspace, query: store.ImageQuery, page_ids: list[int]) -> tuple[list[int], bool]:
    """The selected photos and whether they are 'all that match the filter' (less any box unticked here)."""
    if st.session_state.get("sel_all") != repr(query):
        st.session_state.pop("sel_all", None)
        return ui.selected_ids(page_ids), False
    for i in page_ids:  # a page opened after "select all": its boxes show the selection
        st.session_state.setdefault(f"sel_{i}", True)
    unticked = {i for i in page_ids if st.session_state.get(f"sel_{i}") is False}
    return [i for i in store.query_ids(ws.conn, query) if i not in unticked], True


def selection_bar(
    ws: Workspace, me: auth.Actor, names: dict[str, str], query: store.ImageQuery, page_ids: list[int], total: int
) -> None:
    """Two rows: what is selected (this page, or all that match the filter), then what to do with it."""
    if not auth.can(me, "relabel"):
        return
    chosen, everything = chosen_ids(ws, query, page_ids)
    with st.container(horizontal=True, vertical_alignment="center", key="selection_row"):
        st.button(ui.tr("dataset.select_page"), key="select_page", on_click=_select_page, args=(page_ids,))
        if everything:
            st.button(ui.tr("dataset.select_none"), key="select_none", on_click=_select_none, args=(page_ids,))
            st.markdown(ui.tr("dataset.selected_all", n=f"{len(chosen):,}"), width="content")
        else:
            st.button(
                ui.tr("dataset.select_filter", n=f"{total:,}"),
                key="select_filter",
                disabled=not total,
                on_click=_select_filter,
                args=(query, page_ids),
            )
            if chosen:
                st.button(ui.tr("dataset.select_none"), key="select_none", on_click=_select_none, args=(page_ids,))
            st.markdown(ui.tr("dataset.selected", n=f"{len(chosen):,}"), width="content")
    with st.container(horizontal=True, vertical_alignment="center", key="bulk_row"):
        st.markdown(ui.tr("dataset.set_label"), width="content")
        for name, text in names.items():
            st.button(
                ui.plain(text),
                key=f"bulk_{name}",
                disabled=not chosen,
                on_click=ui.act,
                args=(_bulk_relabel, ws, query, page_ids, name, names),
            )
        if auth.can(me, "delete"):
            st.button(
                ui.tr("dataset.trash_selected"),
                key="bulk_trash",
                disabled=not chosen,
                icon=":material/delete:",
                on_click=ui.act,
                args=(_bulk_trash, ws, query, page_ids),
            )
