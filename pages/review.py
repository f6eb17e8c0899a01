"""Review page: the photos that most deserve a human look, one at a time, relabel / confirm / skip."""

from __future__ import annotations

import streamlit as st

from core import auth, config, jobs, review, runs, store
from core.errors import CoreError
from pages import components as ui

ws = ui.workspace()
me = ui.actor()
names = ui.label_names(ws)

st.title(ui.tr("review.title"))
ui.flash()


def _queue_suspects() -> None:
    job_id = jobs.submit(ws.conn, me, config.TrainConfig(kind="suspects", epochs=1, warmup_epochs=0,
                                                          image_size=config.QUICK_IMAGE_SIZE))
    jobs.ensure_worker(ws)
    st.session_state.flash = ("ok", ui.tr("review.suspects.queued", id=job_id))


finished = [run for run in runs.list_runs(ws.conn) if run.finished]
top = st.columns([3, 2], vertical_alignment="bottom")
run_id = None
if finished:
    production = runs.production_run_id(ws.conn)
    arch_of = {r.id: r.arch for r in finished}
    ids = list(arch_of)
    run_id = top[0].selectbox(ui.tr("review.run"), ids, index=ids.index(production) if production in ids else 0,
                              key=f"review_run_{ids[0]}", format_func=lambda i: f"#{i} · {arch_of[i]}")
with top[1]:
    computed = review.suspects_computed_at(ws.conn)
    st.caption(ui.tr("review.suspects.at", at=ui.local_time(computed)) if computed else ui.tr("review.suspects.never"))
    if auth.can(me, "train"):
        st.button(ui.tr("review.suspects.find"), icon=":material/troubleshoot:", key="review_find",
                  on_click=_queue_suspects)

reasons = st.multiselect(ui.tr("review.reasons"), list(review.REASONS), default=list(review.REASONS),
                         format_func=lambda r: ui.tr(f"review.reason.{r}"), key=f"review_reasons_{ui.lang()}")
try:
    items = review.queue(ws.conn, run_id, reasons)
except CoreError as exc:
    ui.show_error(exc)
    st.stop()

st.caption(ui.tr("review.count", n=len(items)))
if not items:
    st.success(ui.tr("review.empty"), icon=":material/task_alt:")
    st.stop()

item = items[0]
image = store.get_image(ws.conn, item.image_id)


def _decide(decision: str, label: str | None = None) -> None:
    try:
        review.decide(ws.conn, me, item, decision, label)
        st.session_state.flash = ("ok", ui.tr(f"review.done.{decision}", id=item.image_id,
                                              label=ui.label_text(ws, label or image.label)))
    except CoreError as exc:
        st.session_state.flash = ("error", ui.tr("common.error", message=str(exc)))


def _photo_and_heatmap(image: store.Image, item: review.Item) -> None:
    """The photo, and beside it Grad-CAM for the class the model (the chosen run) prefers."""
    path = str(ws.layout.cached(image.sha256))
    if run_id is None or not item.predicted:
        st.image(path, width="stretch")
        return
    try:
        model = ui.predictor(ws, run_id)
        target = model.class_names.index(item.predicted) if item.predicted in model.class_names else None
    except CoreError:
        target = None
    if target is None:
        st.image(path, width="stretch")
        return
    shown, road = ui.heatmap(model, run_id, image.sha256, path, target)
    cols = st.columns(2)
    cols[0].image(path, width="stretch")
    cols[1].image(shown, width="stretch", caption=ui.tr("review.heatmap", label=ui.label_text(ws, item.predicted),
                                                        road=f"{road:.2f}"))


with st.container(border=True, key="review_card"):
    left, right = st.columns([3, 2])
    with left:
        _photo_and_heatmap(image, item)
        if item.partner is not None:
            partner = store.get_image(ws.conn, item.partner)
            st.image(str(ws.layout.thumb(partner.sha256)), width=220,
                     caption=ui.tr("review.partner", id=partner.id, label=ui.label_text(ws, partner.label),
                                   split=ui.tr(f"split.{partner.split or 'train'}")))
    with right:
        st.markdown(f"### #{image.id} · {image.display_name}")
        st.markdown(ui.tr(f"review.why.{item.reason}", score=f"{item.score:.2f}"))
        st.markdown(ui.tr("review.given", label=ui.label_text(ws, image.label)))
        if item.predicted and item.reason in ("misclassified", "suspect"):
            st.markdown(ui.tr("review.predicted", label=ui.label_text(ws, item.predicted)))
        if item.probs and run_id is not None:
            classes = runs.get_run(ws.conn, run_id).class_names
            st.caption(" · ".join(f"{names.get(c, c)} {p:.2f}" for c, p in zip(classes, item.probs, strict=False)))
        if auth.can(me, "relabel"):
            st.caption(ui.tr("review.keys", keys="/".join(str(i + 1) for i in range(len(names)))))
            for n, (name, text) in enumerate(names.items(), start=1):
                st.button(ui.tr("review.set", label=text), key=f"review_set_{name}", width="stretch",
                          type="primary" if name == item.predicted else "secondary",
                          shortcut=str(n) if n <= 9 else None, on_click=_decide, args=("relabel", name))
            cols = st.columns(2)
            cols[0].button(ui.tr("review.confirm"), key="review_confirm", icon=":material/check:", width="stretch",
                           on_click=_decide, args=("confirm",))
            cols[1].button(ui.tr("review.skip"), key="review_skip", icon=":material/skip_next:", width="stretch",
                           on_click=_decide, args=("skip",))
        with st.expander(ui.tr("review.history")):
            ui.history_table(ws, image.id)

if len(items) > 1:
    st.caption(ui.tr("review.next"))
    strip = st.columns(8)
    for col, nxt in zip(strip, items[1:9], strict=False):
        col.image(str(ws.layout.thumb(store.get_image(ws.conn, nxt.image_id).sha256)),
                  caption=ui.tr(f"review.reason.{nxt.reason}"), width="stretch")
