"""In Chromium, signed in: a reload, a new tab and a server restart keep the session; signing out ends it in
every tab at its next action. The cookie is HttpOnly, SameSite=Strict and signed; no URL carries a secret and
the one-time hand-off code works once."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from core import i18n
from tests.conftest import ROOT
from tests.e2e.conftest import free_port, serve

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
COOKIE = "boltscope_session"


def signed_in_as(page, name: str) -> None:
    page.get_by_text(f"Signed in as {name} (admin)").wait_for()


def title(page, key: str) -> None:
    """The page's title is shown (a first visit may import heavy modules on a busy machine: a long wait)."""
    page.locator("[data-testid=stMain] h1").filter(has_text=i18n.t(key)).wait_for(timeout=90_000)


def session_cookie(context, timeout_s: float = 30.0) -> dict:
    """The cookie as the browser keeps it, once the sign-in's hand-off has set it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [c for c in context.cookies() if c["name"] == COOKIE]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError("the server never set the session cookie")


def test_a_session_survives_reload_new_tab_and_restart_and_sign_out_ends_it_everywhere(tmp_path, page):
    port = free_port()
    server = serve(tmp_path, {}, port=port)
    url, workspace = next(server)
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
    context = page.context
    requests: list[tuple[str, str, str | None]] = []
    context.on("request", lambda r: requests.append((r.method, r.url, r.post_data)))
    try:
        page.goto(url)
        page.get_by_label("User name").fill("root")
        page.get_by_label("Password", exact=True).fill("admin password")
        page.get_by_role("button", name="Sign in").click()
        signed_in_as(page, "root")
        cookie = session_cookie(context)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and "." in cookie["value"]

        page.get_by_role("link", name=i18n.t("page.train"), exact=True).click()
        title(page, "train.title")
        assert page.url.endswith("/training")
        page.reload()
        signed_in_as(page, "root")
        title(page, "train.title")
        assert page.url.endswith("/training")

        second = context.new_page()
        second.goto(url + "/diagnosis")
        signed_in_as(second, "root")
        title(second, "diagnose.title")
        second.goto(url + "/diagnose")  # the page file's own name, as an old bookmark has it
        title(second, "diagnose.title")
        second.wait_for_url("**/diagnosis")

        next(server, None)  # restart: same workspace, same port
        server = serve(tmp_path, {}, port=port)
        next(server)
        page.reload()
        signed_in_as(page, "root")
        title(page, "train.title")
        signed_in_as(second, "root")  # the open tab reconnects by itself, still signed in

        page.get_by_text("한국어").click()  # the language chosen is the session's: a reload keeps it
        page.locator("[data-testid=stMain] h1").filter(has_text=i18n.t("train.title", "ko")).wait_for()
        page.reload()
        page.get_by_text(i18n.t("app.user", "ko", name="root", role=i18n.t("role.admin", "ko"))).wait_for()
        page.locator("[data-testid=stMain] h1").filter(has_text=i18n.t("train.title", "ko")).wait_for()
        page.get_by_text("English").click()
        signed_in_as(page, "root")

        page.get_by_role("button", name="Sign out").click()
        page.get_by_text("You are signed out.").wait_for()
        second.get_by_role("link", name=i18n.t("page.evaluate"), exact=True).click()  # its next action
        second.get_by_text("Sign in to boltscope").wait_for()
        second.get_by_text("You are signed out.").wait_for()
        deadline = time.monotonic() + 30
        while [c for c in context.cookies() if c["name"] == COOKIE] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [c for c in context.cookies() if c["name"] == COOKIE]  # and the browser dropped the cookie
        second.reload()
        second.get_by_text("Sign in to boltscope").wait_for()
        assert second.get_by_text("Signed in as").count() == 0

        [handoff] = [body for method, address, body in requests if method == "POST" and "/auth/session" in address]
        replay = context.request.post(url + "/auth/session", data=handoff, headers={"Origin": url})
        assert replay.status == 403  # the code was spent
        assert context.request.post(url + "/auth/session", data="made-up", headers={"Origin": url}).status == 403
        for origin in ({"Origin": "http://elsewhere.example"}, {}):  # only this server's own pages may ask
            assert context.request.delete(url + "/auth/session", headers=origin).status == 403
    finally:
        next(server, None)
    for _method, address, _body in requests:
        assert cookie["value"] not in address and cookie["value"].split(".")[0] not in address
        assert handoff not in address
