"""In Chromium: click a confusion-matrix cell on the Evaluate page, see exactly its photos, relabel one; a refused
promotion in Korean at 1440×900, and the run comparison without sideways scrolling."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from core import evaluation, i18n, runs
from core.workspace import open_workspace
from tests.conftest import ROOT
from tests.core.test_eval_promote import safe_and_risky

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def cli(workspace, *args: str):
    out = subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(workspace), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_click_a_cell_then_relabel_a_photo_there(app_server, page, tmp_path):
    url, workspace = app_server
    cli(workspace, "demo", "--n", "60")
    run_id = cli(
        workspace, "train", "--arch", "tiny_cnn", "--epochs", "2", "--image-size", "32", "--batch-size", "8", "--wait"
    )["run_id"]
    ws = open_workspace(workspace)
    run = runs.get_run(ws.conn, run_id)
    n = len(run.class_names)
    cells = {
        (g, p): evaluation.cell_photos(ws.conn, run_id, "test", g, p) for g in run.class_names for p in run.class_names
    }
    (given, predicted), photos = max(cells.items(), key=lambda item: (item[0][0] != item[0][1], len(item[1])))
    assert photos, "the test split has photos"
    expected = {p["image_id"] for p in photos}

    page.set_viewport_size({"width": 1400, "height": 2000})
    page.goto(url)
    page.get_by_text("Add photos").wait_for()
    page.get_by_role("link", name="Evaluate", exact=True).click()
    page.get_by_text("Confusion matrix", exact=True).wait_for()
    plot = page.locator(f".st-key-eval_cm_{run_id}_test_en .js-plotly-plot")
    plot.wait_for()
    page.wait_for_timeout(1000)
    box = plot.locator(".nsewdrag").first.bounding_box()
    row, col = run.class_names.index(given), run.class_names.index(predicted)
    page.mouse.click(box["x"] + (col + 0.5) / n * box["width"], box["y"] + (row + 0.5) / n * box["height"])
    cell = page.locator(".st-key-eval_cell")
    cell.wait_for()
    cell.get_by_text(f"{len(expected)} photos").wait_for()
    shown = {int(m) for m in re.findall(r"st-key-cell_photo_(\d+)", cell.inner_html())}
    assert shown == expected
    page.screenshot(path=str(tmp_path / "01-cell.png"), full_page=True)

    photo = min(expected)
    new = next(name for name in run.class_names if name != given)
    cell.locator(f".st-key-cell_{photo}_{new} button").click()
    page.get_by_text(f"Photo #{photo} is now labelled").wait_for()
    page.get_by_text("Safety operating point").wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(tmp_path / "02-relabelled.png"), full_page=True)
    history = cli(workspace, "history", str(photo))
    assert history[-1]["new_label"] == new and history[-1]["old_label"] == given
    assert history[-1]["source"] == "review" and history[-1]["user"] == "e2e-tester"
    assert runs.snapshot(ws.conn, run_id)[0] is not None  # the run still means what it meant
    assert next(it for it in runs.snapshot(ws.conn, run_id) if it.image_id == photo).label == given
    ws.close()


def test_a_refused_promotion_in_korean_and_a_comparison_that_fits_1440_px(app_server, page, tmp_path):
    url, workspace = app_server
    ws = open_workspace(workspace)
    # the widest names a real workspace shows: efficientnet_lite0 at 256 px
    safe, risky = safe_and_risky(ws, arch="efficientnet_lite0", image_size=256, pretrained=True)
    ws.close()
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(url)
    page.get_by_role("link", name="Evaluate", exact=True).click()
    error = page.locator("[data-testid=stAlertContentError]")
    page.locator(".st-key-eval_promote button").click()
    error.wait_for()
    assert f"Run #{risky.id} misses more defects than production run #{safe.id}" in error.inner_text()
    page.get_by_text("한국어").click()
    page.get_by_text("모델 내보내기", exact=True).wait_for()
    page.locator(".st-key-eval_promote button").click()
    page.get_by_text("결함을 더 많이 놓칩니다").wait_for()
    text = error.inner_text()
    assert "0.750" in text and "1.000" in text
    assert i18n.t("eval.promote.force", "ko") in text and "--force" not in text
    page.get_by_text("모델 내보내기", exact=True).wait_for()  # the export section stays after a refusal
    page.screenshot(path=str(tmp_path / "refused-ko.png"), full_page=True)

    page.get_by_role("tab", name="학습 비교").click()
    page.get_by_text("학습별 학습 조건").click()
    grids = page.locator("[data-testid=stDataFrame] .dvn-scroller")
    grids.nth(1).wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stDataFrame] .dvn-scroller')].every(e => e.clientWidth > 0)"
    )
    for index in range(grids.count()):
        scroll, client = grids.nth(index).evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert scroll <= client, (index, scroll, client)
    page.screenshot(path=str(tmp_path / "compare-ko.png"), full_page=True)
