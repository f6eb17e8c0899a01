"""Each role sees only its pages: a page it may not use is not registered at all (a direct link fails)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core import auth
from tests.conftest import ROOT

ALL = ("dataset", "train", "evaluate", "review", "diagnose", "admin")
EXPECTED = {
    "viewer": {"dataset", "evaluate", "diagnose"},
    "labeler": {"dataset", "evaluate", "diagnose", "review"},
    "trainer": {"dataset", "evaluate", "diagnose", "review", "train"},
    "admin": set(ALL),
}


@pytest.mark.parametrize("role", auth.ROLES)
def test_navigation_shows_each_role_only_its_pages(ws, role):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["actor"] = auth.Actor("someone", role)
    at.run()
    assert not at.exception, at.exception
    reachable = set()
    for page in ALL:
        try:
            at.switch_page(f"pages/{page}.py")
        except ValueError:
            continue
        reachable.add(page)
    assert reachable == EXPECTED[role]


def test_viewer_sees_no_upload_relabel_or_trash_controls(ws, image_bytes):
    from core import ingest

    ingest.import_uploads(
        ws, auth.Actor("alice", "admin"), [("a.jpg", image_bytes(1)), ("b.jpg", image_bytes(2))], label="normal"
    )
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["actor"] = auth.Actor("vic", "viewer")
    at.run()
    assert not at.exception, at.exception
    keys = {w.key for w in [*at.button, *at.selectbox] if w.key}
    assert not [k for k in keys if any(word in k for word in ("relabel", "trash", "bulk", "delete"))], keys
    assert not at.get("file_uploader")
