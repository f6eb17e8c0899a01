"""In Chromium, a whole wheel end to end: draw the station on a reference photo (a box dragged around each of the
12 bolts), drop a photo of the wheel taken rotated and shifted, see the coloured boxes and every position, and
download the report (rendered to PNG with pdftoppm). Screenshots in English and Korean."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from core import demo_wheel, inspections, jobs, stations
from core.workspace import open_workspace
from tests.core.train_helpers import promoted_tiny_run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SIZE = (1224, 1024)  # half the camera's size: the same drawing, and a quicker test


def drag_boxes(page, positions, size) -> None:
    """Drag a box around each bolt on the station's reference photo (an image inside the component's iframe)."""
    frame_el = page.locator("iframe[title*='streamlit_image_coordinates']").first
    frame_el.wait_for()
    for n, pos in enumerate(positions, start=1):
        frame_el.scroll_into_view_if_needed()
        img = frame_el.content_frame.locator("img")
        img.wait_for()
        box = img.bounding_box()
        fx, fy = box["width"] / size[0], box["height"] / size[1]
        x0, y0, x1, y1 = pos.box
        page.mouse.move(box["x"] + x0 * fx, box["y"] + y0 * fy)
        page.mouse.down()
        page.mouse.move(box["x"] + (x0 + x1) / 2 * fx, box["y"] + (y0 + y1) / 2 * fy, steps=3)
        page.mouse.move(box["x"] + x1 * fx, box["y"] + y1 * fy, steps=3)
        page.mouse.up()
        page.locator("[data-testid=stDataFrameResizable], [data-testid=stDataFrame]").first.wait_for()
        page.get_by_text(f"P{n}", exact=True).last.wait_for()


def test_a_whole_wheel_from_station_to_report(app_server, page, tmp_path):
    url, workspace = app_server
    ws = open_workspace(workspace)
    promoted_tiny_run(ws)
    jobs.worker_gone(ws.conn)  # trained here: the server's teardown must not take this process for its worker
    reference = demo_wheel.render_wheel(21, labels=("normal",) * 12, size=SIZE)
    (tmp_path / "reference.jpg").write_bytes(reference.jpeg)
    photo = demo_wheel.render_wheel(22, angle=-9.0, shift=(25.0, 15.0), scale=1.03, size=SIZE)
    (tmp_path / "wheel.jpg").write_bytes(photo.jpeg)
    page.set_default_timeout(60_000)  # a busy 2-core machine: every wait is on state

    page.goto(url)
    page.get_by_role("link", name="Inspect", exact=True).click()
    page.get_by_role("tab", name="Stations").click()
    name = page.locator("[class*=st-key-station_name_] input")
    name.fill("wheel-A")
    name.press("Enter")
    uploader = page.locator("[class*=st-key-station_reference_] input[type=file]")
    uploader.set_input_files(str(tmp_path / "reference.jpg"))
    drag_boxes(page, reference.positions, SIZE)
    page.screenshot(path=str(tmp_path / "01-station.png"), full_page=True)
    page.get_by_role("button", name="Save station").click()
    page.get_by_text("Station wheel-A saved as version 1 with 12 position(s).").wait_for()
    fresh = page.locator("[class*=st-key-station_name_] input")
    expect(fresh).to_have_count(1)  # the run after saving replaces the draft's elements (new keys): wait for it
    expect(fresh).to_have_value("")  # a new draft starts empty
    station = stations.get_station(ws.conn, "wheel-A")
    for drawn, truth in zip(station.positions, reference.positions, strict=True):  # drawn where the bolts are
        assert drawn.name == truth.name
        assert max(abs(a - b) for a, b in zip(drawn.box, truth.box, strict=True)) <= 6, (drawn, truth)

    page.get_by_role("tab", name="Inspect").first.click()
    files = page.locator(".st-key-insp_files input[type=file]")
    expect(files).to_have_count(1)  # the run after saving the station has replaced the tab's elements
    files.set_input_files(str(tmp_path / "wheel.jpg"))
    go = page.get_by_role("button", name="Inspect 1 photo(s)")
    go.wait_for()  # the upload reached the server
    asset = page.locator(".st-key-insp_asset input")
    asset.fill("OHT-0042 front-left")
    asset.press("Enter")
    expect(asset).to_have_value("OHT-0042 front-left")
    try:
        go.click(timeout=30_000)
    except Exception:
        page.screenshot(path=str(tmp_path / "fail.png"), full_page=True)
        raise
    page.get_by_text("Inspected 1 photo(s) of asset OHT-0042 front-left").wait_for()
    record = inspections.list_inspections(ws.conn, asset="OHT-0042 front-left")[0]
    page.locator(f".st-key-insp_card_{record.id}").wait_for()
    page.locator(f".st-key-insp_pos_{record.id}_P12").wait_for()
    page.screenshot(path=str(tmp_path / "02-inspected-en.png"), full_page=True)
    page.locator(f".st-key-insp_card_{record.id}").screenshot(path=str(tmp_path / "03-card-en.png"))

    with page.expect_download() as download:
        page.locator(f".st-key-insp_report_{record.id} button").click()
    pdf = tmp_path / "report.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "report")],
                       check=True)  # fmt: skip
        assert list(tmp_path.glob("report*.png"))
    assert any(e.action == "report" for e in _audit(ws)), "the download is audited"
    assert any(e.action == "inspect" for e in _audit(ws))

    page.get_by_text("한국어").click()
    card = page.locator(f".st-key-insp_card_{record.id}")
    expect(card).to_have_count(1)  # the tabs' labels changed language: the run replaces the English ones
    card.get_by_text("보고서 (PDF)").wait_for()
    card.screenshot(path=str(tmp_path / "04-card-ko.png"))
    page.get_by_role("tab", name="이력").click()
    page.get_by_text("검사 1건").wait_for()
    page.screenshot(path=str(tmp_path / "05-history-ko.png"), full_page=True)
    page.get_by_role("tab", name="스테이션").click()
    page.screenshot(path=str(tmp_path / "06-stations-ko.png"), full_page=True)
    ws.close()


def _audit(ws):
    from core import audit

    return audit.query(ws.conn)
