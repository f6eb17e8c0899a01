"""In Chromium: a zip whose entries are named with a markdown picture and a markdown link, and a label whose
display name is a link, imported through the Dataset page: the gallery and the photo view show the names as
text, with no <img> or <a> of theirs in the DOM and no request to their host."""

from __future__ import annotations

import io
import zipfile

import pytest

from core import auth, demo, label_set
from core.workspace import open_workspace
from tests.ui.test_markdown_injection import LABEL_EN, PAYLOADS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HOST = "127.0.0.1:9"
PICTURE_NAME = f"{PAYLOADS[0]}/a.jpg"  # the picture payload as the folder of a zip entry
LINK_NAME = f"{PAYLOADS[1]}.jpg"


def payload_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(PICTURE_NAME, demo.render_crop(1, "normal").jpeg)
        archive.writestr(LINK_NAME, demo.render_crop(2, "broken").jpeg)
    return out.getvalue()


def assert_nothing_of_theirs(page, url: str, requested: list[str]) -> None:
    """No picture from outside the dashboard, no link to the payloads' host, no request to it."""
    images = page.eval_on_selector_all("img", "els => els.map(e => e.getAttribute('src') || '')")
    links = page.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href') || '')")
    assert not [src for src in images if HOST in src or src.startswith("http") and not src.startswith(url)], images
    theirs = page.eval_on_selector_all(f'a[href*="{HOST}"]', "els => els.map(e => e.parentElement.outerHTML)")
    assert not [href for href in links if HOST in href], theirs
    assert not requested, requested


def test_payload_names_are_text_in_gallery_and_photo_view(app_server, page, tmp_path):
    url, workspace = app_server
    ws = open_workspace(workspace)
    label_set.add_label(ws.conn, auth.Actor("setup", "admin"), "rust", LABEL_EN, LABEL_EN)
    ws.close()
    archive = tmp_path / "photos.zip"
    archive.write_bytes(payload_zip())
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url) if HOST in request.url else None)

    page.goto(url)
    page.get_by_text("Add photos").wait_for()
    files = page.locator("[data-testid=stFileUploader] input[type=file]:not([webkitdirectory])")
    files.first.set_input_files(str(archive))
    page.get_by_role("button", name="Import 1 file(s)").click()
    page.get_by_text("Imported 2, duplicates 0, refused 0, skipped 0.").wait_for()
    page.locator(".st-key-open_1 button").first.wait_for()
    page.screenshot(path=str(tmp_path / "01-gallery.png"), full_page=True)
    assert_nothing_of_theirs(page, url, requested)

    for image_id, name in ((1, PICTURE_NAME), (2, LINK_NAME)):
        page.locator(f".st-key-open_{image_id} button").first.click()
        page.get_by_text(f"Photo #{image_id}").wait_for()
        shown = page.locator(".st-key-open_photo").inner_text().replace("\u2060", "")  # word joiners: invisible
        assert name in shown  # the name as typed, shown as text
        labels = page.locator(".st-key-open_set_rust button").inner_text().replace("\u2060", "")
        assert labels.splitlines()[0] == LABEL_EN  # the display name as its own text (then the shortcut key)
        page.screenshot(path=str(tmp_path / f"0{image_id + 1}-photo.png"), full_page=True)
        assert_nothing_of_theirs(page, url, requested)

    page.get_by_text("한국어").click()  # the Korean display name is the link payload too
    page.get_by_text("라벨 이력").wait_for()
    page.screenshot(path=str(tmp_path / "04-korean.png"), full_page=True)
    assert_nothing_of_theirs(page, url, requested)
