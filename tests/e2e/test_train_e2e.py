"""In Chromium: start a tiny_cnn job on the Train page, reload mid-run, see it continue, finish, and plot."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
EPOCHS = 40  # about 0.4 s each at 256 px on an idle 2-core CPU: long enough to reload in the middle


def cli(workspace, *args: str):
    out = subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(workspace), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def pick(page, key: str, option: str) -> None:
    page.locator(f".st-key-{key} input[role=combobox]").click()
    page.get_by_role("option", name=re.compile(option)).click()


def test_start_reload_finish(app_server, page, tmp_path):
    url, workspace = app_server
    cli(workspace, "demo", "--n", "240")
    # a fresh server answers a deep link with "page not found" until app.py has run once
    # (streamlit/streamlit#8860), so arrive the way a user does: the front page, then the menu
    page.set_viewport_size({"width": 1400, "height": 2300})  # the whole page in each screenshot
    page.goto(url)
    page.get_by_text("Add photos").wait_for()
    page.get_by_role("link", name="Train", exact=True).click()
    page.get_by_text("New run", exact=True).wait_for()
    assert page.url.endswith("/training")
    pick(page, "train_arch_en", "^tiny_cnn")
    page.get_by_text("This model has no pretrained weights").wait_for()
    pick(page, "train_size_tiny_cnn", "^256$")
    pick(page, "train_batch", "^8$")
    epochs = page.locator(".st-key-train_epochs input")
    epochs.fill(str(EPOCHS))
    epochs.press("Enter")
    # the rerun that took the new epochs redraws the warm-up input (inside Advanced) with them as its maximum
    page.locator(f".st-key-train_warmup input[max='{EPOCHS}']").wait_for(state="attached")
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Job #1 queued.").wait_for()

    detail = page.locator(".st-key-job_detail")
    detail.get_by_text(re.compile(rf"Epoch ([3-9]|1\d)/{EPOCHS}")).first.wait_for(timeout=90_000)
    page.screenshot(path=str(tmp_path / "01-running.png"), full_page=True)
    before = cli(workspace, "jobs")
    assert [j["status"] for j in before] == ["running"]

    page.reload()  # closing or reloading the browser neither stops nor duplicates the job
    page.get_by_text("New run", exact=True).wait_for()
    detail.get_by_text("#1 · tiny_cnn").wait_for()
    detail.get_by_text(re.compile(rf"Epoch \d+/{EPOCHS}")).first.wait_for()  # still live after the reload
    after = cli(workspace, "jobs")
    assert len(after) == 1 and after[0]["status"] == "running" and after[0]["attempts"] == 1

    detail.get_by_text("done").first.wait_for(timeout=300_000)
    detail.locator(".js-plotly-plot").nth(1).wait_for()  # loss and score curves
    page.screenshot(path=str(tmp_path / "02-done.png"), full_page=True)
    final = cli(workspace, "jobs")
    assert len(final) == 1 and final[0]["status"] == "done"
    history = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
                "print(c.execute('select count(*) from epochs').fetchone()[0])"
            ),
            str(workspace / "boltscope.db"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(history.stdout) == EPOCHS


def test_queued_note_goes_once_the_job_moves_on(app_server, page):
    """Only the live part of the page redraws (every 2 s): a "queued" note drawn above it used to stay for good."""
    url, workspace = app_server
    cli(workspace, "demo", "--n", "30")
    page.goto(url)
    page.get_by_role("link", name="Train", exact=True).click()
    page.get_by_text("New run", exact=True).wait_for()
    pick(page, "train_arch_en", "^tiny_cnn")
    page.get_by_text("This model has no pretrained weights").wait_for()
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Job #1 queued.").wait_for()
    page.get_by_text("Waiting for the worker").wait_for(state="detached", timeout=120_000)  # the worker took it
    page.get_by_text("Job #1 queued.").wait_for(state="detached", timeout=10_000)
