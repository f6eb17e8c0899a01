"""In Chromium with sign-in required: a viewer sees no relabel, upload, train or admin controls; an admin
signs in, sees the Admin page and the audit log of those sign-ins; English and Korean screenshots."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def cli(workspace, *args: str, stdin: str = "") -> str:
    """The CLI on the served workspace (as an admin would use it beside the dashboard); its output."""
    return subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(workspace), *args],
        cwd=ROOT,
        input=stdin,
        text=True,
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout


def sign_in(page, url: str, name: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_viewer_sees_no_mutating_controls_and_admin_sees_the_audit(auth_server, page, tmp_path):
    url, workspace = auth_server
    cli(workspace, "demo", "--n", "12")
    cli(workspace, "user", "add", "root", "--role", "admin", "--password-stdin", stdin="admin password\n")
    cli(workspace, "user", "add", "vic", "--role", "viewer", "--password-stdin", stdin="viewer password\n")

    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(url)
    page.get_by_text("Sign in to boltscope").wait_for()
    page.screenshot(path=str(tmp_path / "01-signin.png"))
    sign_in(page, url, "vic", "not it")
    page.get_by_text("Sign-in refused").wait_for()

    page.get_by_label("Password", exact=True).fill("viewer password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as vic (viewer)").wait_for()
    page.locator("[data-testid=stImage]").first.wait_for()  # the gallery
    nav = page.locator("[data-testid=stSidebarNav]").inner_text()
    assert {"Dataset", "Evaluate", "Diagnose"} <= set(nav.split()) and not {"Train", "Review", "Admin"} & set(
        nav.split()
    )
    main = page.locator("[data-testid=stMain]")
    assert main.locator("[data-testid=stFileUploader]").count() == 0
    assert main.locator("[class*=st-key-bulk_]").count() == 0
    main.locator("[class*=st-key-open_] button").first.click()
    page.get_by_text("Label history").first.wait_for()
    assert page.locator("[class*=st-key-open_set_]").count() == 0  # no relabel buttons on the photo either
    page.screenshot(path=str(tmp_path / "02-viewer.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out.").wait_for()

    sign_in(page, url, "root", "admin password")
    page.get_by_text("Signed in as root (admin)").wait_for()
    page.get_by_role("link", name="Admin", exact=True).click()
    page.get_by_role("tab", name="Audit log").click()
    page.get_by_text("Download as CSV").wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(tmp_path / "03-admin-audit.png"), full_page=True)
    page.get_by_text("한국어").click()
    page.get_by_role("tab", name="계정").wait_for()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "04-admin-ko.png"), full_page=True)
    db = subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(workspace), "audit", "--csv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ",sign_in.failed,vic," in db and ",sign_in,vic," in db and ",sign_out,vic," in db and ",sign_in,root," in db
