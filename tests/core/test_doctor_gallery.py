"""A missing thumbnail never breaks the Dataset page (issue 14, point 6): it is rebuilt from the original, and
where that cannot be done a placeholder picture is shown, not a traceback."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core import ingest, store
from core.workspace import open_workspace
from tests.conftest import ROOT, make_image
from tests.core.train_helpers import ADMIN
from ui import components


@pytest.fixture
def gallery_ws(ws_path, monkeypatch):
    monkeypatch.setenv("BOLTSCOPE_NO_AUTH", "1")
    ws = open_workspace(ws_path)
    uploads = [(f"normal/p{i}.jpg", make_image(i)) for i in range(3)]
    assert ingest.import_uploads(ws, ADMIN, uploads).count("imported") == 3
    yield ws
    ws.close()


def test_gallery_rebuilds_a_missing_thumbnail_and_shows_a_placeholder_when_it_cannot(gallery_ws):
    ws = gallery_ws
    rebuilt, lost, whole = store.all_images(ws.conn)
    thumb = ws.layout.thumb(rebuilt.sha256)
    good = thumb.read_bytes()
    thumb.unlink()  # the original is there: the thumbnail comes back
    ws.layout.thumb(lost.sha256).unlink()
    ws.layout.cached(lost.sha256).unlink()
    ws.layout.original(lost.sha256, lost.ext).unlink()  # nothing to rebuild from: a placeholder

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    urls = [url for image in at.image for url in image.value]
    assert sum(url.startswith("data:image/svg+xml") for url in urls) == 1  # the lost photo's placeholder
    assert len(urls) == 3
    assert thumb.read_bytes() == good  # rebuilt the same as the import made it
    assert ws.layout.thumb(whole.sha256).is_file()
    assert at.checkbox(key=f"sel_{lost.id}")  # the lost photo's card is there, with its controls

    at.radio(key="lang").set_value("ko").run()
    assert not at.exception, at.exception


def test_picture_reads_the_file_or_gives_the_placeholder(gallery_ws):
    ws = gallery_ws
    image = store.all_images(ws.conn)[0]
    assert components.picture(ws, image) == ws.layout.thumb(image.sha256).read_bytes()
    ws.layout.cached(image.sha256).unlink()
    assert components.picture(ws, image, "cached") == ws.layout.cached(image.sha256).read_bytes()
    ws.layout.original(image.sha256, image.ext).unlink()
    ws.layout.cached(image.sha256).unlink()
    assert components.picture(ws, image, "cached") == components.PLACEHOLDER
    assert components.picture(ws, image) == ws.layout.thumb(image.sha256).read_bytes()  # still there


def test_the_photo_view_of_a_photo_whose_files_are_gone_shows_a_placeholder(gallery_ws):
    ws = gallery_ws
    lost = store.all_images(ws.conn)[0]
    ws.layout.cached(lost.sha256).unlink()
    ws.layout.original(lost.sha256, lost.ext).unlink()

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["open_id"] = lost.id  # the photo view, as the gallery's open button leaves it
    at.run()
    assert not at.exception, at.exception
    urls = [url for image in at.image for url in image.value]
    assert any(url.startswith("data:image/svg+xml") for url in urls)
