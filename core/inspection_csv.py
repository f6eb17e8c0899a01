"""Inspections as CSV for spreadsheets: one row per position, every cell neutralised (core.csvfile)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from core import csvfile
from core.inspections import Inspection

CSV_HEADER = (
    "inspection_id",
    "at",
    "inspector",
    "station",
    "station_version",
    "asset",
    "photo",
    "photo_sha256",
    "verdict",
    "current_verdict",
    "alignment_ok",
    "alignment_score",
    "run_id",
    "threshold",
    "position",
    "label",
    "defect",
    "current_label",
    "current_defect",
    "unfit",
    "probs",
    "box",
)


def text(inspections: Sequence[Inspection]) -> str:
    """One row per position (the inspection's columns repeated), every cell neutralised (core.csvfile)."""
    rows = (
        [
            i.id,
            i.at,
            i.inspector,
            i.station,
            i.station_version,
            i.asset,
            i.photo_name,
            i.photo_sha256,
            i.verdict,
            i.current_verdict,
            i.alignment.ok,
            round(i.alignment.score, 4),
            i.run_id,
            i.threshold,
            p.name,
            p.label,
            p.defect,
            p.current_label,
            p.current_defect,
            p.unfit,
            json.dumps(p.probs, sort_keys=True),
            json.dumps(list(p.box)),
        ]
        for i in inspections
        for p in i.positions
    )
    return csvfile.rows_text(CSV_HEADER, rows)


def data(inspections: Sequence[Inspection]) -> bytes:
    """text() as a download: UTF-8 with a byte-order mark, so spreadsheet programs read Korean right."""
    return text(inspections).encode("utf-8-sig")
