"""CSV formula injection: every CSV the product writes neutralises cells that a spreadsheet would run."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest

from core import csvfile, signin
from core.errors import CoreError
from core.ml import diagnosis
from tests.conftest import ROOT

PAYLOADS = [
    '=HYPERLINK("http://127.0.0.1/x","click")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")) for cell in row]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_formula_cell_is_written_as_text(payload):
    written = cells(csvfile.rows_text(["name"], [[payload]]))
    assert written[1] == "'" + payload and not written[1].startswith(DANGEROUS)


def test_numbers_and_plain_text_are_left_alone():
    assert cells(csvfile.rows_text(["a", "b", "c"], [[-1.5, "bolt-3", "normal"]]))[3:] == ["-1.5", "bolt-3", "normal"]


def test_the_audit_csv_from_the_cli_neutralises_names_typed_at_sign_in(ws, ws_path):
    for payload in PAYLOADS:
        with pytest.raises(CoreError):
            signin.authenticate(ws.conn, payload, "wrong password")
    out = subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(ws_path), "audit", "--csv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    written = cells(out.stdout)
    assert any(cell.startswith("'=HYPERLINK") for cell in written)  # the attempt is kept, as text
    assert not [cell for cell in written if cell.startswith(DANGEROUS)]


def test_the_diagnosis_csv_and_the_pages_csv_neutralise_file_names():
    from ui import components

    rows = [{"file": payload, "label": "normal", "p": 0.5} for payload in PAYLOADS]
    for data in (diagnosis.table_csv(rows), components.csv_bytes(rows)):
        text = data.decode("utf-8-sig")
        written = cells(text)
        assert written[:3] == ["file", "label", "p"]
        assert not [cell for cell in written if cell.startswith(DANGEROUS)]
        assert written.count("normal") == len(PAYLOADS)
