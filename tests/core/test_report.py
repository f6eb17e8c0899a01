"""The printable reports: Korean renders with the embedded CJK font, boxes carry their verdict's colour, the
signature line is there, and a missing font is refused by name."""

from __future__ import annotations

import functools
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core import i18n, report
from core.errors import ValidationError

pytestmark = pytest.mark.skipif(not any(p.is_file() for p in report.FONT_CANDIDATES), reason="fonts-noto-cjk absent")


def view(states: tuple[str, ...] = ("pass", "defect", "unfit")) -> report.InspectionView:
    photo = Image.new("RGB", (800, 600), (200, 200, 200))
    positions = []
    for n, state in enumerate(states):
        x0, y0 = 100 + 220 * n, 200
        corners = ((x0, y0), (x0 + 150, y0), (x0 + 150, y0 + 150), (x0, y0 + 150))
        crop = Image.new("RGB", (150, 150), (90, 90, 90))
        ImageDraw.Draw(crop).ellipse((40, 40, 110, 110), fill=(20, 20, 20))
        positions.append(
            report.PositionView(f"P{n + 1}", state, state, "normal 0.90 · broken 0.05", corners, crop, crop)
        )
    return report.InspectionView(
        7, "휠-A", "OHT-0042 왼쪽 앞바퀴", "defect", photo, tuple(positions), "run 3 · tiny_cnn", 0.62,
        "automatic, 0.93", "김검사", "2026-12-03T10:00:00.000Z",
    )  # fmt: skip


def rendered(pdf: bytes, tmp_path) -> Image.Image:
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")], check=True
    )
    return Image.open(next(tmp_path.glob("page*.png"))).convert("RGB")


def test_the_korean_report_embeds_the_cjk_font_and_colours_the_boxes(tmp_path):
    pdf = report.render_inspection(view(), functools.partial(i18n.t, lang="ko"))
    assert pdf.startswith(b"%PDF") and b"NotoSansCJK" in pdf  # the font is embedded (as a subset)
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) absent")
    page = np.asarray(rendered(pdf, tmp_path)).reshape(-1, 3).astype(int)
    for colour in report.COLOURS.values():  # each verdict's box colour is on the page
        assert (np.abs(page - colour).sum(axis=1) < 60).sum() > 20, colour


def test_boxes_drawn_marks_each_position_in_its_colour():
    shown = np.asarray(report.boxes_drawn(view().photo, view().positions)).astype(int)
    for pos in view().positions:
        (x, y) = pos.corners[0]
        patch = shown[int(y) : int(y) + 3, int(x) + 20 : int(x) + 40].reshape(-1, 3)
        assert (np.abs(patch - report.COLOURS[pos.state]).sum(axis=1) < 10).any(), pos.state


def test_the_summary_totals_its_rows(tmp_path):
    rows = [report.SummaryRow("휠-A", "OHT-1", 3, 36, 2, 1), report.SummaryRow("휠-B", "", 1, 12, 0, 0)]
    pdf = report.render_summary(rows, "2026-12-01", "2026-12-03", functools.partial(i18n.t, lang="en"))
    assert pdf.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext absent")
    path = tmp_path / "s.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Shift summary" in text and "휠-A" in text
    total = next(line for line in text.splitlines() if line.strip().startswith("Total")).split()
    assert total[1:] == ["4", "48", "2", "1"]


def test_a_missing_font_is_refused_by_package_name(monkeypatch, tmp_path):
    monkeypatch.setattr(report, "FONT_CANDIDATES", (tmp_path / "none.ttc",))
    with pytest.raises(ValidationError) as refused:
        report.render_inspection(view(), functools.partial(i18n.t, lang="ko"))
    assert refused.value.key == "report.error.font" and "fonts-noto-cjk" in i18n.t(
        "report.error.font", "ko", **refused.value.detail
    )
