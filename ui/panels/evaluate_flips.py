"""The Evaluate page's comparison before a promotion: the test photos a candidate fixes and the ones it newly
gets wrong against another run (the production model by default), each with both runs' heatmaps."""

from __future__ import annotations

import io
from pathlib import Path

import streamlit as st

from core import compare, runs, store
from core.errors import CoreError
from core.workspace import Workspace
from ui import components as ui

SHOWN = 4  # flipped photos drawn at once: each costs two Grad-CAMs the first time it is shown
KINDS = ("broken", "fixed")  # newly wrong first: what may stop a promotion


def default_pair(finished: list[runs.Run], production: int | None) -> tuple[int, int]:
    """(candidate, reference): the newest finished run that is not production, against production; with no
    production model, the newest against the one before it. finished: newest first, at least two."""
    ids = [run.id for run in finished]
    candidate = next(i for i in ids if i != production)
    reference = production if production is not None else next(i for i in ids if i != candidate)
    return candidate, reference


def _pick(ws: Workspace, finished: list[runs.Run]) -> tuple[int, int]:
    production = runs.production_run_id(ws.conn)
    candidate, reference = default_pair(finished, production)
    ids = [run.id for run in finished]

    def text(run: runs.Run) -> str:
        key = "compare.run_option.production" if run.id == production else "compare.run_option"
        return ui.tr(key, id=run.id, arch=run.arch, kind=ui.tr(f"train.kind.{run.kind}"))

    texts = {run.id: text(run) for run in finished}
    left, right = st.columns(2)
    # the keys carry the newest run: a new run starts the pickers again on the defaults
    picked = ui.choice(
        left, ui.tr("compare.candidate"), ids, f"cmp_b_{ids[0]}", texts.__getitem__, ids.index(candidate)
    )
    against = ui.choice(
        right, ui.tr("compare.reference"), ids, f"cmp_a_{ids[0]}", texts.__getitem__, ids.index(reference)
    )
    return picked, against


def _threshold(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else ui.tr("compare.argmax")


def _summary(found: compare.PhotoComparison) -> None:
    figures = (("fixed", len(found.fixed)), ("broken", len(found.broken)), ("same", found.same))
    for col, (name, value) in zip(st.columns(len(figures)), figures, strict=True):
        col.metric(ui.tr(f"compare.m.{name}"), value, help=ui.tr(f"compare.m.help.{name}", wrong=found.both_wrong))
    st.caption(
        ui.tr(
            "compare.rule",
            a=found.a.run_id,
            ta=_threshold(found.a.threshold),
            b=found.b.run_id,
            tb=_threshold(found.b.threshold),
        )
    )
    reasons = []
    for reason, ids in found.left_out.items():
        if reason in ("only_a", "only_b"):
            run = found.a.run_id if reason == "only_a" else found.b.run_id
            reasons.append(ui.tr("compare.left_out.only", n=len(ids), run=run))
        else:
            reasons.append(ui.tr(f"compare.left_out.{reason}", n=len(ids)))
    if reasons:
        st.caption(":material/filter_alt: " + ui.tr("compare.left_out", reasons="; ".join(reasons)))


def _recorded(ws: Workspace, candidate: int, reference: int) -> None:
    """The comparison the latest promotion of one of the two runs over the other recorded (its text names which
    run replaced which, so it reads the same whichever way round they are picked)."""
    for done in runs.promotions(ws.conn):
        kept = done["comparison"]
        if kept and {done["run_id"], kept.get("against")} == {candidate, reference}:
            st.info(
                ui.tr(
                    "compare.recorded",
                    run=done["run_id"],
                    against=kept["against"],
                    user=ui.plain(done["user"]),
                    at=ui.local_time(done["at"]),
                    fixed=len(kept["fixed"]),
                    broken=len(kept["broken"]),
                    same=kept["same"],
                ),
                icon=":material/history:",
            )
            return


@st.cache_data(show_spinner=False, max_entries=128)
def _heatmap(_predictor, run_id: int, sha256: str, path: str, target: int) -> bytes:
    """One run's Grad-CAM of its verdict on a stored photo, blended over the photo, as JPEG (cached: a page of
    flips is drawn again on every rerun)."""
    from PIL import Image

    from core.ml import explain

    mask, _ = explain.cam_mask(_predictor, Path(path), "gradcam", target)
    with Image.open(path) as img:
        shown = explain.overlay(img.convert("RGB"), mask)
    out = io.BytesIO()
    shown.save(out, "JPEG", quality=90)
    return out.getvalue()


def _verdict(ws: Workspace, where, side: compare.RunSide, verdict: compare.RunVerdict, flip: compare.Flip) -> None:
    if st.session_state.get("cmp_heatmaps", True):
        try:
            path = str(ws.layout.cached(flip.sha256))
            model = ui.predictor(ws, side.run_id)
            where.image(_heatmap(model, side.run_id, flip.sha256, path, side.classes.index(verdict.decided)))
        except CoreError as exc:
            where.caption(ui.tr("compare.heatmap_failed", message=ui.error_text(exc)))
    p = f"{verdict.p_defect:.3f}" if verdict.p_defect is not None else ui.tr("common.none")
    mark = ":green[" + ui.tr("compare.right") + "]" if verdict.right else ":red[" + ui.tr("compare.wrong") + "]"
    decided = ui.label_md(ws, verdict.decided)
    where.markdown(ui.tr("compare.verdict", run=side.run_id, decided=decided, p=p, mark=mark))


def _flip(ws: Workspace, found: compare.PhotoComparison, flip: compare.Flip) -> None:
    with st.container(border=True):
        photo, old, new = st.columns(3)
        photo.image(ui.picture(ws, store.get_image(ws.conn, flip.image_id), "cached"))
        photo.markdown(ui.tr("compare.photo", id=flip.image_id, label=ui.label_md(ws, flip.label)))
        _verdict(ws, old, found.a, flip.a, flip)
        _verdict(ws, new, found.b, flip.b, flip)


def _flips(ws: Workspace, found: compare.PhotoComparison) -> None:
    lists = {"broken": found.broken, "fixed": found.fixed}
    show, heatmaps, page = st.columns([3, 3, 2], vertical_alignment="bottom")
    kind = ui.choice(
        show,
        ui.tr("compare.show"),
        list(KINDS),
        "cmp_kind",
        lambda k: ui.tr(f"compare.kind.{k}", n=len(lists[k])),
        widget="radio",
        horizontal=True,
    )
    shown = lists[kind]
    if not shown:
        st.caption(":material/inbox: " + ui.tr(f"compare.none.{kind}", a=found.a.run_id))
        return
    heatmaps.toggle(ui.tr("compare.heatmaps"), value=True, key="cmp_heatmaps")
    start = 0
    if len(shown) > SHOWN:
        start = page.selectbox(
            ui.tr("compare.page"),
            list(range(0, len(shown), SHOWN)),
            format_func=lambda s: f"{s + 1}–{min(s + SHOWN, len(shown))} / {len(shown)}",
            key=f"cmp_page_{kind}_{found.a.run_id}_{found.b.run_id}",
        )
    for flip in shown[start : start + SHOWN]:
        _flip(ws, found, flip)


def flips(ws: Workspace) -> None:
    """Pick the candidate and the run it would replace; the counts, what was left out, and the flipped photos."""
    st.subheader(ui.tr("compare.title"))
    st.caption(ui.tr("compare.help"))
    finished = [run for run in runs.list_runs(ws.conn) if run.finished]
    if len(finished) < 2:
        st.info(ui.tr("compare.need_two"))
        return
    candidate, reference = _pick(ws, finished)
    if candidate == reference:
        st.info(ui.tr("compare.pick_two"))
        return
    found = compare.compare_photos(ws.conn, reference, candidate)
    _recorded(ws, candidate, reference)
    _summary(found)
    _flips(ws, found)
