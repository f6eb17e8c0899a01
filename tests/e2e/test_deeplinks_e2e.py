"""In Chromium, on a freshly started server, each page URL opened directly as the very first request shows that
page (single-user mode) or the sign-in and then that page (sign-in required): never Streamlit's list of the
pages/ modules, a blank page or its English "Page not found"."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from core import i18n
from tests.conftest import ROOT
from tests.e2e.conftest import serve

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TITLES = {
    "dataset.py": "dataset.title",
    "train.py": "train.title",
    "evaluate.py": "eval.title",
    "review.py": "review.title",
    "inspect.py": "inspect.title",
    "diagnose.py": "diagnose.title",
    "admin.py": "admin.title",
}
MODULES = ("admin panels", "components", "session", "prefetch", "signin", "dataset panels")


def app_pages() -> list[tuple[str, str, str]]:
    """(url path, title key, page title key) of each page, read from app.py's PAGES; then the two the issue
    named, under their files' own names (Streamlit's legacy discovery ran those files alone: a blank page)."""
    tree = ast.parse((ROOT / "app.py").read_text())
    [pages] = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PAGES"
    ]
    found = [(url, TITLES[file], title) for file, title, _icon, url, _action in pages]
    named = ("train.py", "diagnose.py")
    return found + [(file[:-3], TITLES[file], title) for file, title, *_ in pages if file in named]


PAGES = app_pages()


def no_module_list(page) -> None:
    nav = page.locator("[data-testid=stSidebarNav]")
    text = nav.inner_text().lower() if nav.count() else ""
    assert not [name for name in MODULES if name in text], text
    assert page.get_by_text("Page not found").count() == 0


@pytest.mark.parametrize(("url_path", "title_key", "nav_key"), PAGES, ids=[p[0] for p in PAGES])
def test_first_request_in_single_user_mode_shows_the_page(tmp_path, page, url_path, title_key, nav_key):
    server = serve(tmp_path, {}, args=("--no-auth",))
    url, _ = next(server)
    try:
        page.goto(f"{url}/{url_path}")
        page.locator("[data-testid=stMain] h1").filter(has_text=i18n.t(title_key)).wait_for(timeout=90_000)
        nav = page.locator("[data-testid=stSidebarNav]")
        nav.get_by_text(i18n.t(nav_key), exact=True).wait_for()
        no_module_list(page)
        assert page.url.rstrip("/").endswith(url_path) or url_path in (PAGES[0][0], "train", "diagnose")
    finally:
        next(server, None)


@pytest.mark.parametrize(("url_path", "title_key", "nav_key"), PAGES, ids=[p[0] for p in PAGES])
def test_first_request_when_signed_out_shows_the_sign_in_then_the_page(tmp_path, page, url_path, title_key, nav_key):
    server = serve(tmp_path, {})
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
    try:
        page.goto(f"{url}/{url_path}")
        page.get_by_text("Sign in to boltscope").wait_for(timeout=60_000)
        no_module_list(page)
        assert page.locator("[data-testid=stSidebarNav]").count() == 0  # nothing but the sign-in for a visitor
        page.get_by_label("User name").fill("root")
        page.get_by_label("Password", exact=True).fill("admin password")
        page.get_by_role("button", name="Sign in").click()
        page.locator("[data-testid=stMain] h1").filter(has_text=i18n.t(title_key)).wait_for(timeout=90_000)
        no_module_list(page)
        assert url_path in (PAGES[0][0], "train", "diagnose") or page.url.endswith(f"/{url_path}")
    finally:
        next(server, None)
