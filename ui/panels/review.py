"""Review page panels: the card of the current photo and its decisions.

The given label is the default ("Label is right", Enter); the model's answer is one of the label buttons, keyed
1, 2, 3… in the label set's order whatever the model says. Turning a defect photo normal asks first.
"""

from __future__ import annotations

import streamlit as st

from core import auth, review, runs, store
from core.errors import CoreError
from core.workspace import Workspace
from ui import components as ui
from ui.panels import review_heatmaps as heatmaps

CONFIRM_KEY = "Enter"
SKIP_KEY = "S"
PER_ROW = 3  # label buttons side by side
PENDING = "review_pending"  # session key: (image id, label) of a defect-to-normal relabel awaiting its confirmation


def _decide(
    ws: Workspace, me: auth.Actor, item: review.Item, decision: str, label: str | None = None, confirmed: bool = False
) -> None:
    st.session_state.pop(PENDING, None)
    try:
        before = store.get_image(ws.conn, item.image_id).label
        review.record_decision(ws.conn, me, item, decision, label, confirmed=confirmed)
        ui.flash_ok(ui.tr(f"review.done.{decision}", id=item.image_id, label=ui.label_md(ws, label or before)))
    except CoreError as exc:
        ui.flash_error(exc)


def _choose(ws: Workspace, me: auth.Actor, item: review.Item, label: str) -> None:
    """A label button: relabel at once, or first ask when a defect photo would become normal."""
    current = store.get_image(ws.conn, item.image_id).label
    if review.needs_confirmation(current, label):
        st.session_state[PENDING] = (item.image_id, label)
    else:
        _decide(ws, me, item, "relabel", label)


def _media(ws: Workspace, run_id: int | None, items: list[review.Item], image: store.Image) -> None:
    """The photo at once; beside it Grad-CAM for the class the model prefers, prepared off the script thread
    together with the next photos' heatmaps."""
    wanted = heatmaps.plan(ws, run_id, items[: 1 + heatmaps.AHEAD])
    current = wanted[0] if wanted and wanted[0].sha256 == image.sha256 else None
    heatmaps.want(wanted, score=current)
    shown = ui.picture(ws, image, "cached")  # rebuilds a missing working copy, which the heatmap reads too
    if current is None:
        st.image(shown, width="stretch")
        return
    cols = st.columns(2)
    cols[0].image(shown, width="stretch")
    with cols[1]:
        heatmaps.show(current)


def _ask_to_normal(ws: Workspace, me: auth.Actor, item: review.Item, image: store.Image, label: str) -> None:
    """The second step of a defect-to-normal relabel: nothing is recorded until 'Yes'."""
    with st.container(border=True, key="review_to_normal"):
        st.warning(
            ui.tr("review.to_normal.ask", id=image.id, old=ui.label_md(ws, image.label), new=ui.label_md(ws, label)),
            icon=":material/warning:",
        )
        st.button(
            ui.tr("review.to_normal.no", label=ui.label_md(ws, image.label)),
            type="primary",
            key="review_to_normal_no",
            width="stretch",
            shortcut="Esc",
            on_click=lambda: st.session_state.pop(PENDING, None),
        )
        st.button(
            ui.tr("review.to_normal.yes", label=ui.label_md(ws, label)),
            key="review_to_normal_yes",
            icon=":material/report:",
            width="stretch",
            on_click=ui.act,
            args=(_decide, ws, item, "relabel", label),
            kwargs={"confirmed": True},
        )


def _decisions(ws: Workspace, me: auth.Actor, item: review.Item, image: store.Image, names: dict[str, str]) -> None:
    """'Label is right' (the default, Enter), the label buttons (1, 2, 3… in label order), skip (S). A photo
    without a label (sent from Diagnose) has nothing to confirm: the label buttons are the decision."""
    if image.label is not None:
        st.button(
            ui.tr("review.confirm", label=ui.label_md(ws, image.label)),
            key="review_confirm",
            type="primary",
            icon=":material/check:",
            width="stretch",
            shortcut=CONFIRM_KEY,
            on_click=ui.act,
            args=(_decide, ws, item, "confirm"),
        )
        st.caption(ui.tr("review.change"))
    labels = list(names.items())
    for row in range(0, len(labels), PER_ROW):
        for col, (n, (name, text)) in zip(
            st.columns(PER_ROW), enumerate(labels[row : row + PER_ROW], start=row + 1), strict=False
        ):
            model_answer = name == item.predicted and name != image.label
            col.button(
                ui.plain(text),
                key=f"review_set_{name}",
                width="stretch",
                type="secondary",
                icon=":material/smart_toy:" if model_answer else None,
                disabled=name == image.label,
                help=ui.tr("review.set.model")
                if model_answer
                else ui.tr("review.set.current")
                if name == image.label
                else ui.tr("review.set", label=ui.plain(text)),
                shortcut=str(n) if n <= 9 else None,
                on_click=ui.act,
                args=(_choose, ws, item, name),
            )
    st.button(
        ui.tr("review.skip"),
        key="review_skip",
        icon=":material/skip_next:",
        width="stretch",
        shortcut=SKIP_KEY,
        on_click=ui.act,
        args=(_decide, ws, item, "skip"),
    )
    pairs = " · ".join(f"{n}: {ui.plain(text)}" for n, text in enumerate(list(names.values())[:9], start=1))
    st.caption(ui.tr("review.keys" if image.label is not None else "review.keys.unlabelled", pairs=pairs))


def card(ws: Workspace, me: auth.Actor, run_id: int | None, items: list[review.Item], names: dict[str, str]) -> None:
    """The current photo (the queue's first), why it is here, what the model says, and the decisions.

    The decisions are drawn before the photo and its heatmap: the buttons of the new card replace the previous
    card's as early as the run can, so a key pressed at once reaches this photo (core refuses a photo decided
    already, should a key still reach the previous one)."""
    item = items[0]
    image = store.get_image(ws.conn, item.image_id)
    with st.container(border=True, key="review_card"):
        left, right = st.columns([3, 2])
        with right:
            st.markdown(f"#### #{image.id} · {ui.plain(image.display_name)}")
            st.markdown(ui.tr(f"review.why.{item.reason}", score=f"{item.score:.2f}", pct=f"{item.score * 100:.1f}"))
            said = [ui.tr("review.given", label=ui.label_md(ws, image.label))]
            if item.predicted and item.reason in ("misclassified", "suspect", "unfamiliar"):
                said.append(ui.tr("review.predicted", label=ui.label_md(ws, item.predicted)))
            st.markdown(" · ".join(said))
            if item.probs and run_id is not None:
                classes = runs.get_run(ws.conn, run_id).class_names
                st.caption(
                    " · ".join(
                        f"{ui.plain(names.get(c, c))} {p:.2f}" for c, p in zip(classes, item.probs, strict=False)
                    )
                )
            if auth.can(me, "relabel"):
                pending = st.session_state.get(PENDING)
                if pending and pending[0] == image.id:
                    _ask_to_normal(ws, me, item, image, pending[1])
                else:
                    _decisions(ws, me, item, image, names)
            with st.expander(ui.tr("review.history")):
                ui.history_table(ws, image.id)
        with left:
            _media(ws, run_id, items, image)
            if item.partner is not None:
                partner = store.get_image(ws.conn, item.partner)
                st.image(
                    ui.picture(ws, partner),
                    width=220,
                    caption=ui.tr(
                        "review.partner",
                        id=partner.id,
                        label=ui.label_md(ws, partner.label),
                        split=ui.tr(f"split.{partner.split or 'train'}"),
                    ),
                )
