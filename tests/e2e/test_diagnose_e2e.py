"""In Chromium: drop a demo photo on the Diagnose page; the PASS / DEFECT / CHECK PHOTO banner, probabilities and
the Grad-CAM overlay, which changes with the method and the opacity; English and Korean screenshots."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from core import demo
from tests.conftest import ROOT

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


def overlay_src(card) -> str:
    return card.locator("img").nth(1).get_attribute("src")


def test_drop_a_photo_and_change_the_heatmap(app_server, page, tmp_path):
    url, workspace = app_server
    cli(workspace, "demo", "--n", "45")
    run_id = cli(workspace, "train", "--arch", "tiny_cnn", "--epochs", "2", "--image-size", "32", "--wait")["run_id"]
    cli(workspace, "promote", str(run_id))
    photo = tmp_path / "볼트.jpg"
    photo.write_bytes(demo.render_crop(4242, "broken").jpeg)

    page.set_viewport_size({"width": 1400, "height": 1600})
    page.goto(url)
    page.get_by_text("Add photos").wait_for()
    page.get_by_role("link", name="Diagnose", exact=True).click()
    page.get_by_text(f"Production model: run #{run_id}").wait_for(timeout=120_000)  # the first torch import
    page.locator("[data-testid=stFileUploader] input[type=file]").first.set_input_files([str(photo)])
    card = page.locator(".st-key-diag_card_0")
    card.get_by_text("볼트.jpg").wait_for()
    card.locator(".js-plotly-plot").wait_for()  # the probability bars
    assert re.search(r"(normal|broken|missing)", card.locator("h4").inner_text())
    card.locator(".st-key-diag_banner_0").get_by_text(re.compile(r"^(PASS|DEFECT|CHECK PHOTO)$")).wait_for()
    card.get_by_text(re.compile(r"^Model \+ Grad-CAM: \d+ ms per photo$")).wait_for()
    card.get_by_text(re.compile(r"Grad-CAM, explaining")).wait_for()
    first = overlay_src(card)
    page.screenshot(path=str(tmp_path / "01-gradcam.png"), full_page=True)

    page.locator(".st-key-diag_method input[role=combobox]").click()
    page.get_by_role("option", name="Eigen-CAM").click()
    card.get_by_text(re.compile(r"Eigen-CAM, explaining")).wait_for()
    second = overlay_src(card)
    assert second != first
    slider = page.locator(".st-key-diag_opacity input[type=range]")
    slider.focus()
    for _ in range(4):
        slider.press("ArrowRight")
    page.wait_for_function(
        "old => { const c = document.querySelector('.st-key-diag_card_0'); const i = c && c.querySelectorAll('img')[1];"
        " return i && i.getAttribute('src') !== old; }",
        arg=second,
        timeout=30_000,
    )
    page.screenshot(path=str(tmp_path / "02-eigencam.png"), full_page=True)

    card.get_by_text("Wrong? Save with the right label").click()
    form = page.locator("[data-testid=stPopoverBody]")
    save = form.get_by_role("button", name="Add to the dataset")
    save.wait_for()
    assert save.is_disabled() and form.locator("input[type=radio]:checked").count() == 0  # no label for the user
    form.get_by_text("broken", exact=True).click()
    page.wait_for_function(
        "() => { const b = [...document.querySelectorAll('[data-testid=stPopoverBody] button')]"
        ".find(b => b.innerText.includes('Add to the dataset')); return b && !b.disabled; }"
    )
    save.click()
    card.get_by_text(re.compile(r"added to the dataset as|already in the dataset")).wait_for()  # beside the button
    page.keyboard.press("Escape")

    page.get_by_text("한국어").click()
    page.get_by_text("히트맵 설정").wait_for()
    page.locator(".st-key-diag_card_0").get_by_text("보고서 (JSON)").wait_for()
    card.locator(".st-key-diag_banner_0").get_by_text(re.compile(r"^(합격|불량|사진 확인)$")).wait_for()
    page.screenshot(path=str(tmp_path / "03-korean.png"), full_page=True)
