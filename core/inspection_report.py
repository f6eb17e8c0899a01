"""What an inspection's report and page show, from the record: each position's crop and heatmap as they were
at the inspection (kept beside the record, so a report printed a year later shows what the inspector saw),
the report's texts in the reader's language, and the report downloads, each one audited."""

from __future__ import annotations

import functools
import io
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from core import audit, auth, i18n, inspections, label_set, report
from core.files import write_atomic
from core.inspection_record import Inspection, StoredPosition
from core.workspace import Workspace

KINDS = ("crop", "heatmap")


def views_dir(ws: Workspace, inspection_id: int) -> Path:
    return ws.layout.root / "records" / "views" / f"{int(inspection_id):08d}"


def save_views(
    ws: Workspace, inspection_id: int, crops: Sequence[Image.Image | None], heatmaps: Sequence[Image.Image | None]
) -> None:
    """Keep each position's crop and heatmap (JPEG) with the record; positions in the station's order."""
    folder = views_dir(ws, inspection_id)
    folder.mkdir(parents=True, exist_ok=True)
    for index, pair in enumerate(zip(crops, heatmaps, strict=True)):
        for kind, picture in zip(KINDS, pair, strict=True):
            if picture is not None:
                out = io.BytesIO()
                picture.convert("RGB").save(out, "JPEG", quality=90)
                write_atomic(folder / f"{index:02d}-{kind}.jpg", out.getvalue())


def view(ws: Workspace, inspection_id: int, index: int, kind: str) -> Image.Image | None:
    """One kept crop or heatmap, or None when the inspection kept none (an API call without heatmaps)."""
    path = views_dir(ws, inspection_id) / f"{int(index):02d}-{kind}.jpg"
    if kind not in KINDS or not path.is_file():
        return None
    with Image.open(path) as img:
        return img.convert("RGB")


def state(position: StoredPosition) -> str:
    """The colour a position gets: pass (normal), defect, or unfit (not judged)."""
    if position.current_label is None:
        return "unfit"
    if position.current_defect:
        return "defect"
    return "unfit" if position.unfamiliar else "pass"  # unlike the training photos: checked, never passed


def _position_view(ws: Workspace, inspection: Inspection, index: int, tr, names: dict[str, str]):
    pos = inspection.positions[index]
    label = pos.current_label
    text = tr(f"inspect.unfit.{pos.unfit or 'alignment'}") if label is None else names.get(label, label)
    if pos.unfamiliar:
        text += " · " + tr("familiarity.position", percentile=f"{float(pos.familiarity['percentile']):.1f}")
    if pos.corrections:
        text += " · " + tr("inspect.corrected", user=pos.corrections[-1].user)
    probs = " · ".join(f"{names.get(c, c)} {p:.2f}" for c, p in sorted(pos.probs.items(), key=lambda kv: -kv[1]))
    return report.PositionView(
        pos.name,
        state(pos),
        text,
        probs,
        pos.corners,
        view(ws, inspection.id, index, "crop"),
        view(ws, inspection.id, index, "heatmap"),
    )


def report_view(ws: Workspace, inspection: Inspection, lang: str) -> report.InspectionView:
    """The record as the report prints it, in lang."""
    tr = functools.partial(i18n.t, lang=lang)
    names = {lab.name: lab.display(lang) for lab in label_set.list_labels(ws.conn)}
    with Image.open(inspections.photo_path(ws, inspection)) as img:
        photo = img.convert("RGB")
    align = inspection.alignment
    return report.InspectionView(
        inspection.id,
        f"{inspection.station} (v{inspection.station_version})",
        inspection.asset,
        inspection.current_verdict,
        photo,
        tuple(_position_view(ws, inspection, n, tr, names) for n in range(len(inspection.positions))),
        tr("inspect.model", run=inspection.run_id),
        inspection.threshold,
        tr(f"inspect.alignment.{align.method}", score=f"{align.score:.2f}")
        + ("" if align.ok else " · " + tr("inspect.alignment.unsure")),
        inspection.inspector,
        inspection.at,
    )


def inspection_pdf(ws: Workspace, actor: auth.Actor, inspection_id: int, lang: str) -> bytes:
    """One inspection's report, audited as a download ("report")."""
    auth.require(actor, "inspect", ws.conn)
    inspection = inspections.get_inspection(ws.conn, inspection_id)
    data = report.render_inspection(report_view(ws, inspection, lang), functools.partial(i18n.t, lang=lang))
    audit.record_now(ws.conn, actor.name, "report", f"inspection {inspection.id}", kind="inspection", lang=lang)
    return data


def summary_rows(found: Sequence[Inspection]) -> list[report.SummaryRow]:
    """Inspections, positions, defect positions and inspections to check, by station and asset."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for ins in found:
        key = (ins.station, ins.asset)
        counts[(*key, "inspections")] += 1
        counts[(*key, "positions")] += len(ins.positions)
        counts[(*key, "defects")] += sum(1 for p in ins.positions if state(p) == "defect")
        counts[(*key, "checks")] += ins.current_verdict == "check"
    keys = sorted({(s, a) for s, a, _ in counts})
    return [
        report.SummaryRow(s, a, *(counts[(s, a, f)] for f in ("inspections", "positions", "defects", "checks")))
        for s, a in keys
    ]


def summary_pdf(ws: Workspace, actor: auth.Actor, since: str, until: str, lang: str) -> bytes:
    """The shift summary over [since, until), audited as a download ("report")."""
    auth.require(actor, "inspect", ws.conn)
    found = inspections.list_inspections(ws.conn, since=since or None, until=until or None)
    data = report.render_summary(summary_rows(found), since, until, functools.partial(i18n.t, lang=lang))
    audit.record_now(ws.conn, actor.name, "report", "summary", kind="summary", since=since, until=until, lang=lang)
    return data
