"""In Chromium with sign-in required: the Admin page's form and buttons act through ui.act (issue 15, section 3).
The form's callback reads what was typed from the session when the form is submitted (the form then clears);
the role button reads the role chosen when it is clicked; each says what it did in a flash."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_roles_e2e import cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def roles(workspace) -> dict[str, str]:
    return {u["name"]: u["role"] for u in json.loads(cli(workspace, "user", "list"))}


def test_create_an_account_then_change_its_role(auth_server, page):
    url, workspace = auth_server
    cli(workspace, "user", "add", "root", "--role", "admin", "--password-stdin", stdin="admin password\n")
    page.goto(url)
    page.get_by_label("User name").fill("root")
    page.get_by_label("Password", exact=True).fill("admin password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as root (admin)").wait_for()
    page.get_by_role("link", name="Admin", exact=True).click()

    form = page.locator("[data-testid=stForm]")
    form.locator(".st-key-admin_new_name input").fill("kim")
    form.locator(".st-key-admin_new_password input").fill("long enough!")
    form.get_by_role("button", name="Create the account").click()
    page.get_by_text("Account kim created").wait_for()
    assert roles(workspace)["kim"] == "viewer"
    assert form.locator(".st-key-admin_new_name input").input_value() == ""  # the form cleared after submitting

    page.locator(".st-key-admin_pick input[role=combobox]").click()
    page.get_by_role("option", name="kim", exact=True).click()
    page.locator(".st-key-admin_role_kim_en input[role=combobox]").click()
    page.get_by_role("option", name="trainer", exact=True).click()
    page.locator(".st-key-admin_set_role button").click()
    page.get_by_text("kim: role is now trainer").wait_for()
    assert roles(workspace)["kim"] == "trainer"
