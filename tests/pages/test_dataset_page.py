"""AppTest: app.py and the Dataset page render, switch language, relabel, trash, filter, split."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core import auth, demo, ingest, store
from core.workspace import open_workspace
from tests.conftest import ROOT

N = 9


@pytest.fixture
def demo_ws(ws_path):
    ws = open_workspace(ws_path)
    uploads = [(f"{p.label}/d{i}.jpg", p.jpeg) for i, p in enumerate(demo.demo_set(N, seed=3))]
    report = ingest.import_uploads(ws, auth.Actor("setup", "admin"), uploads)
    assert report.count("imported") == N
    yield ws
    ws.close()


def run_app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_app_shows_counts_in_english_and_korean(demo_ws):
    at = run_app()
    assert at.title[0].value == "Dataset"
    assert metric(at, "Photos") == str(N)
    assert metric(at, "broken") == str(N // 3)
    at.radio(key="lang").set_value("ko").run()
    assert not at.exception
    assert at.title[0].value == "데이터셋"
    assert metric(at, "파손") == str(N // 3)
    assert any("330장" in c.value or "장 중" in c.value for c in at.caption)


def test_open_photo_relabel_records_history(demo_ws):
    image = store.query_images(demo_ws.conn, store.ImageQuery(labels=("normal",)), 0, 1)[0][0]
    at = run_app()
    at.button(key=f"open_{image.id}").click().run()
    assert any(f"#{image.id}" in s.value for s in at.subheader)
    at.button(key="open_set_missing").click().run()
    assert not at.exception
    assert store.get_image(demo_ws.conn, image.id).label == "missing"
    events = store.history(demo_ws.conn, image.id)
    assert [(e.old_label, e.new_label, e.source) for e in events][-1] == ("normal", "missing", "manual")
    assert metric(at, "missing") == str(N // 3 + 1)
    assert any("relabelled" in s.value for s in at.success)


def test_bulk_relabel_and_trash_then_restore(demo_ws):
    ids = [im.id for im in store.query_images(demo_ws.conn, store.ImageQuery(labels=("broken",)), 0, 10)[0]]
    at = run_app()
    for image_id in ids:
        at.checkbox(key=f"sel_{image_id}").check()
    at.run()
    at.button(key="bulk_normal").click().run()
    assert {store.get_image(demo_ws.conn, i).label for i in ids} == {"normal"}
    at.checkbox(key=f"sel_{ids[0]}").check().run()
    at.button(key="bulk_trash").click().run()
    assert store.stats(demo_ws.conn)["total"] == N - 1
    assert metric(at, "Photos") == str(N - 1)
    assert not [b for b in at.button if b.key == "trash_restore"], "the trash is listed only when its tab is open"
    at.session_state["dataset_tab"] = "Trash"
    at.run()
    at.checkbox(key=f"sel_{ids[0]}").check().run()
    at.button(key="trash_restore").click().run()
    assert store.stats(demo_ws.conn)["total"] == N


def test_filter_by_label_and_split_settings(demo_ws):
    at = run_app()
    at.multiselect(key="f_labels").set_value(["missing"]).run()
    assert any(c.value.startswith("1–3 of 3") for c in at.caption)
    at.session_state["dataset_tab"] = "Splits & export"
    at.run()
    assert any(c.value.startswith("1–3 of 3") for c in at.caption), "the gallery keeps its filter behind the tab"
    at.number_input(key="split_train").set_value(60).run()
    at.number_input(key="split_val").set_value(20).run()
    at.checkbox(key="split_lock").check().run()
    at.button(key="split_apply").click().run()
    assert not at.exception
    ratios, locked = store.split_settings(demo_ws.conn, (0.7, 0.15, 0.15))
    assert ratios == pytest.approx((0.6, 0.2, 0.2)) and locked


def test_viewer_sees_no_mutating_controls(demo_ws, monkeypatch):
    monkeypatch.setattr(auth, "local_actor", lambda name=None: auth.Actor("vic", "viewer"))
    at = run_app()
    keys = {b.key for b in at.button}
    assert "bulk_normal" not in keys and "bulk_trash" not in keys and "upload_go" not in keys
    at.session_state["dataset_tab"] = "Splits & export"
    at.run()
    assert not [cb for cb in at.checkbox if cb.key == "split_lock"] or at.button(key="split_apply").disabled
    assert at.number_input(key="split_train"), "the viewer sees the split settings (read-only)"
