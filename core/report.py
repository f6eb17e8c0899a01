"""Printable inspection reports, made offline with fpdf2: one page set per inspection (the photo with its
coloured boxes, each position's crop, heatmap and verdict, model, threshold, inspector, time, a signature
line) and a shift summary (inspections, positions and defects by station and asset over a date range).

Korean text renders with Noto Sans CJK from Debian's `fonts-noto-cjk` (the Makefile installs it with
Chromium), embedded as a subset. Without it the report is refused with the package to install: a report
whose Korean came out as empty boxes would be worse than none.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from core.errors import ValidationError

FONT_CANDIDATES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
)
FONT_KR = 1  # the Korean face of the collection (JP, KR, SC, TC, HK); every face holds Hangul
COLOURS = {"pass": (22, 163, 74), "defect": (220, 38, 38), "unfit": (217, 119, 6)}
PHOTO_MAX_PX = 1600  # the photo is embedded at most this large: sharp on paper, a small file

Translate = Callable[..., str]  # (key, **values) -> text in the report's language


@dataclass(frozen=True)
class PositionView:
    """One position as the report shows it."""

    name: str
    state: str  # "pass" (normal) | "defect" | "unfit" (not judged): the colour
    label: str  # translated verdict text
    probs: str  # e.g. "normal 0.98 · broken 0.01"
    corners: tuple[tuple[float, float], ...]  # in photo pixels
    crop: Image.Image | None
    heatmap: Image.Image | None


@dataclass(frozen=True)
class InspectionView:
    """Everything one inspection's report prints, already translated where it is text."""

    inspection_id: int
    station: str
    asset: str
    verdict: str  # "pass" | "defect" | "check"
    photo: Image.Image
    positions: tuple[PositionView, ...]
    model: str  # e.g. "run 12 · efficientnet_lite0"
    threshold: float | None
    alignment: str  # e.g. "automatic, score 0.93"
    inspector: str
    at: str


@dataclass(frozen=True)
class SummaryRow:
    station: str
    asset: str
    inspections: int
    positions: int
    defects: int  # positions judged a defect
    checks: int  # inspections that need a look (alignment refused, unfit position)


def font_path() -> Path:
    """The CJK font to embed; a clear refusal naming the package when it is missing."""
    for path in FONT_CANDIDATES:
        if path.is_file():
            return path
    raise ValidationError(
        "the report needs the Noto Sans CJK font (Debian package fonts-noto-cjk) to print Korean; "
        "install it: apt-get install fonts-noto-cjk",
        key="report.error.font",
        package="fonts-noto-cjk",
    )


def boxes_drawn(photo: Image.Image, positions: Sequence[PositionView], width: int | None = None) -> Image.Image:
    """The photo with each position's outline in its verdict's colour and its name beside it."""
    shown = photo.convert("RGB").copy()
    draw = ImageDraw.Draw(shown)
    line = width or max(3, round(max(shown.size) / 400))
    for pos in positions:
        colour = COLOURS.get(pos.state, COLOURS["unfit"])
        points = [(float(x), float(y)) for x, y in pos.corners]
        draw.line([*points, points[0]], fill=colour, width=line)
        x, y = min(p[0] for p in points), min(p[1] for p in points)
        draw.text((x + line, max(0.0, y - 12 * line)), pos.name, fill=colour, font_size=10 * line)
    return shown


def _pdf(tr: Translate):
    from fpdf import FPDF  # only the report needs it

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=14)
    regular = font_path()
    pdf.add_font("cjk", fname=str(regular), collection_font_number=FONT_KR)
    bold = regular.with_name(regular.name.replace("Regular", "Bold"))
    pdf.add_font("cjk", style="B", fname=str(bold if bold.is_file() else regular), collection_font_number=FONT_KR)
    pdf.set_font("cjk", size=10)
    pdf.set_title(tr("report.title"))
    pdf.set_creator("boltscope")
    return pdf


def _jpeg(image: Image.Image, max_px: int) -> io.BytesIO:
    shown = image.convert("RGB")
    shown.thumbnail((max_px, max_px))
    out = io.BytesIO()
    shown.save(out, "JPEG", quality=88)
    out.seek(0)
    return out


def _header(pdf, view: InspectionView, tr: Translate) -> None:
    pdf.add_page()
    pdf.set_font("cjk", size=16)
    pdf.cell(0, 9, tr("report.inspection.title", id=view.inspection_id), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    colour = COLOURS.get(view.verdict, COLOURS["unfit"])  # pass, defect; check in the unfit colour
    pdf.set_text_color(*colour)
    pdf.set_font("cjk", size=14)
    pdf.cell(0, 8, tr(f"report.verdict.{view.verdict}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("cjk", size=9)
    threshold = "—" if view.threshold is None else f"{view.threshold:.3f}"
    for key, value in (
        ("report.station", view.station),
        ("report.asset", view.asset or "—"),
        ("report.model", view.model),
        ("report.threshold", threshold),
        ("report.alignment", view.alignment),
        ("report.inspector", view.inspector),
        ("report.time", view.at),
    ):
        pdf.cell(0, 5, f"{tr(key)}: {value}", new_x="LMARGIN", new_y="NEXT")


def _positions(pdf, view: InspectionView, tr: Translate) -> None:
    """Three positions to a row: crop and heatmap side by side, the verdict (coloured) and the probabilities."""
    pdf.set_font("cjk", size=11)
    pdf.cell(0, 8, tr("report.positions"), new_x="LMARGIN", new_y="NEXT")
    per_row, thumb, gap = 3, 27.0, 4.0  # mm
    cell_w = (pdf.w - pdf.l_margin - pdf.r_margin - gap * (per_row - 1)) / per_row
    cell_h = thumb + 14
    for start in range(0, len(view.positions), per_row):
        if pdf.get_y() + cell_h > pdf.h - pdf.b_margin:
            pdf.add_page()
        top = pdf.get_y()
        for n, pos in enumerate(view.positions[start : start + per_row]):
            left = pdf.l_margin + n * (cell_w + gap)
            for k, picture in enumerate((pos.crop, pos.heatmap)):
                if picture is not None:
                    pdf.image(_jpeg(picture, 320), x=left + k * (thumb + 1), y=top, w=thumb, h=thumb)
            pdf.set_xy(left, top + thumb + 1)
            pdf.set_text_color(*COLOURS.get(pos.state, COLOURS["unfit"]))
            pdf.set_font("cjk", size=10)
            pdf.cell(cell_w, 5, f"{pos.name} · {pos.label}"[:60])
            pdf.set_text_color(0, 0, 0)
            pdf.set_font("cjk", size=7)
            pdf.set_xy(left, top + thumb + 6)
            pdf.multi_cell(cell_w, 3.2, pos.probs or "—")
        pdf.set_xy(pdf.l_margin, top + cell_h)


def _signature(pdf, tr: Translate) -> None:
    if pdf.get_y() + 24 > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.ln(8)
    pdf.set_font("cjk", size=10)
    for key in ("report.signed.inspector", "report.signed.supervisor"):
        pdf.cell(0, 7, f"{tr(key)}: " + "_" * 32 + f"   {tr('report.signed.date')}: " + "_" * 14)
        pdf.ln(10)


def render_inspection(view: InspectionView, tr: Translate) -> bytes:
    """One inspection's report."""
    pdf = _pdf(tr)
    _header(pdf, view, tr)
    photo = boxes_drawn(view.photo, view.positions)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    height = min(width * photo.height / photo.width, 120.0)
    pdf.image(_jpeg(photo, PHOTO_MAX_PX), x=pdf.l_margin, y=pdf.get_y() + 2, h=height)
    pdf.set_y(pdf.get_y() + height + 6)
    _positions(pdf, view, tr)
    _signature(pdf, tr)
    return bytes(pdf.output())


def render_summary(rows: Sequence[SummaryRow], since: str, until: str, tr: Translate) -> bytes:
    """The shift summary: a table by station and asset, with totals."""
    pdf = _pdf(tr)
    pdf.add_page()
    pdf.set_font("cjk", size=16)
    pdf.cell(0, 9, tr("report.summary.title"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    pdf.cell(0, 6, tr("report.summary.range", since=since or "—", until=until or "—"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    heads = ("report.station", "report.asset", "report.summary.inspections", "report.summary.positions",
             "report.summary.defects", "report.summary.checks")  # fmt: skip
    widths = (42, 42, 26, 26, 26, 26)
    with pdf.table(col_widths=widths, text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")) as table:
        table.row([tr(h) for h in heads])
        for r in rows:
            table.row([r.station, r.asset or "—", str(r.inspections), str(r.positions), str(r.defects), str(r.checks)])
        total = [sum(getattr(r, f) for r in rows) for f in ("inspections", "positions", "defects", "checks")]
        table.row([tr("report.summary.total"), "", *map(str, total)])
    _signature(pdf, tr)
    return bytes(pdf.output())
