"""In Chromium: upload three photos through the Dataset page, relabel one (key 3: labels and opens the next),
go back (left arrow), check counts and history."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core import demo
from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def metric_value(page, label: str) -> str:
    card = page.locator("[data-testid=stMetric]").filter(
        has=page.locator("[data-testid=stMetricLabel]", has_text=label)
    )
    return card.first.locator("[data-testid=stMetricValue]").inner_text().strip()


def test_upload_relabel_and_history(app_server, page, tmp_path):
    url, workspace = app_server
    files = []
    for i, label in enumerate(("normal", "broken", "missing")):
        path = tmp_path / f"볼트_{i}.jpg"  # Korean file names must survive as display names
        path.write_bytes(demo.render_crop(100 + i, label).jpeg)
        files.append(str(path))

    page.goto(url)
    page.get_by_text("Add photos").wait_for()
    page.screenshot(path=str(tmp_path / "01-empty.png"), full_page=True)
    page.locator("[data-testid=stFileUploader] input[type=file]").first.set_input_files(files)
    page.locator(".st-key-upload_split_0_en").get_by_text("test", exact=True).click()  # a hand-picked test set
    page.get_by_role("button", name="Import 3 file(s)").click()
    page.get_by_text("Imported 3, duplicates 0, refused 0, skipped 0.").wait_for()
    # the per-file report is a data grid: its cells are in the DOM for screen readers
    page.locator("[role=gridcell]", has_text="볼트_1.jpg").first.wait_for(state="attached")
    page.screenshot(path=str(tmp_path / "02-imported.png"), full_page=True)
    assert metric_value(page, "Photos") == "3"
    assert metric_value(page, "unlabeled") == "3"

    page.locator(".st-key-open_2 button").first.click()
    page.get_by_text("Photo #2").wait_for()
    page.locator("body").press("3")  # keyboard shortcut: third label = missing, then the next photo opens
    page.get_by_text("1 photo(s) relabelled as missing.").wait_for()
    page.get_by_text("Photo #1").wait_for()
    page.locator("body").press("ArrowLeft")  # back to the photo just labelled
    page.get_by_text("Photo #2").wait_for()
    page.screenshot(path=str(tmp_path / "03-relabelled.png"), full_page=True)
    assert metric_value(page, "missing") == "1"
    assert metric_value(page, "unlabeled") == "2"
    history = page.locator(".st-key-open_photo [role=gridcell]")
    history.filter(has_text="manual").first.wait_for(state="attached")
    assert history.filter(has_text="e2e-tester").count() == 1

    out = subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(workspace), "history", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    events = json.loads(out.stdout)
    assert [(e["old_label"], e["new_label"], e["source"], e["user"]) for e in events] == [
        (None, "missing", "manual", "e2e-tester")
    ]
    stats = json.loads(
        subprocess.run(
            [sys.executable, "-m", "core", "--workspace", str(workspace), "stats"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert stats["total"] == 3 and stats["by_label"]["missing"] == 1 and stats["unlabeled"] == 2
    assert stats["by_split"] == {"train": 0, "val": 0, "test": 3}

    page.get_by_text("한국어").click()
    page.get_by_text("라벨 이력").wait_for()
    page.screenshot(path=str(tmp_path / "04-korean.png"), full_page=True)
