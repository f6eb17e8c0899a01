"""CSV files the product writes: one writer, cells that a spreadsheet would run as a formula neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

# A cell starting with one of these is a formula (or a DDE call) to Excel, LibreOffice and Google Sheets
# (OWASP "CSV injection"): `=HYPERLINK(...)`, `@SUM(...)`, `+cmd|...`, `-1+1`, and the same behind a tab or CR.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """The cell as it may be written: text that would start a formula gets a leading apostrophe, which
    spreadsheets show as plain text; numbers (negative ones too) stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def rows_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Header and rows as CSV text with every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; a CR or LF inside a cell then gets quoted
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def dicts_bytes(rows: list[dict[str, object]]) -> bytes:
    """Dict rows (keys of the first as the header) as UTF-8 CSV with a byte-order mark, so spreadsheet
    programs read Korean right; empty when there are no rows."""
    if not rows:
        return b""
    header = list(rows[0])
    return rows_text(header, ([row.get(name) for name in header] for row in rows)).encode("utf-8-sig")
