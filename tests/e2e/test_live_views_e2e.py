"""Issue 14, point 2, in Chromium: a live view (the Train page's job list redraws itself every 2 s, never
passing through app.py) stops showing data once its session has ended, with no click from the user; and its
redraws do not keep an idle session open."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from core import i18n
from tests.conftest import ROOT
from tests.e2e.conftest import serve

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def add_trainer(workspace) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "--workspace",
            str(workspace),
            "user",
            "add",
            "root",
            "--role",
            "admin",
            "--password-stdin",
        ],
        cwd=ROOT,
        input="admin password\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "--workspace",
            str(workspace),
            "user",
            "add",
            "kim",
            "--role",
            "trainer",
            "--password-stdin",
        ],
        cwd=ROOT,
        input="trainer password\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=120,
    )


def test_the_live_job_list_stops_showing_data_when_the_session_ends(tmp_path, page):
    server = serve(tmp_path, {})
    url, workspace = next(server)
    add_trainer(workspace)
    try:
        page.goto(url + "/training")
        page.get_by_label("User name").fill("kim")
        page.get_by_label("Password", exact=True).fill("trainer password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Signed in as kim (trainer)").wait_for(timeout=90_000)
        jobs_header = page.get_by_text(i18n.t("train.jobs.header"), exact=True)
        jobs_header.wait_for(timeout=90_000)
        # an admin disables kim from the CLI (another process): the open tab is not touched by anyone
        subprocess.run(
            [sys.executable, "-m", "core", "--workspace", str(workspace), "user", "disable", "kim", "--user", "root"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=120,
        )
        page.get_by_text("Sign in to boltscope").wait_for(timeout=60_000)  # the live view noticed by itself
        assert page.get_by_text(i18n.t("train.jobs.header"), exact=True).count() == 0
        assert page.get_by_text("Signed in as kim").count() == 0
        with sqlite3.connect(workspace / "boltscope.db") as conn:
            assert conn.execute("SELECT end_reason FROM sessions WHERE user = 'kim'").fetchone()[0] == "disabled"
    finally:
        next(server, None)
