"""An inspection's crops sent to the dataset: labelled with their (corrected) verdict, or unlabeled for Review.
Each keeps its provenance: the file name names the inspection and the position, the photo's source is
"inspection", and the audit entry lists which position became which photo."""

from __future__ import annotations

from collections import defaultdict

from core import audit, auth, ingest, inspection_report, inspections
from core.errors import ValidationError
from core.workspace import Workspace


def crop_name(inspection_id: int, position: str) -> str:
    return f"inspection-{int(inspection_id):06d}-{position}.jpg"


def to_dataset(ws: Workspace, actor: auth.Actor, inspection_id: int, labelled: bool) -> ingest.ImportReport:
    """Import the kept crops of the judged positions; unfit positions (nothing was judged) are left out."""
    auth.require(actor, "upload", ws.conn)
    inspection = inspections.get_inspection(ws.conn, inspection_id)
    groups: dict[str | None, list[tuple[str, bytes]]] = defaultdict(list)
    folder = inspection_report.views_dir(ws, inspection.id)
    for index, pos in enumerate(inspection.positions):
        path = folder / f"{index:02d}-crop.jpg"
        if pos.current_label is not None and path.is_file():
            groups[pos.current_label if labelled else None].append(
                (crop_name(inspection.id, pos.name), path.read_bytes())
            )
    if not groups:
        raise ValidationError(
            f"inspection {inspection.id} kept no crops of judged positions: nothing to send",
            key="inspect.error.no_crops",
            id=inspection.id,
        )
    report = ingest.ImportReport()
    for label, uploads in groups.items():
        found = ingest.import_uploads(ws, actor, uploads, label, image_source="inspection", event_source="inspection")
        report.outcomes.extend(found.outcomes)
    made = {o.file: o.image_id for o in report.outcomes if o.image_id is not None}
    audit.record_now(
        ws.conn, actor.name, "inspection.to_dataset", f"inspection {inspection.id}", labelled=labelled, photos=made
    )
    return report
