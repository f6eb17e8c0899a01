"""AppTest: app.py and the Dataset page render, switch language, relabel, trash, filter, split."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core import audit, auth, demo, ingest, store
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


def test_a_bulk_press_right_after_the_last_box_was_unticked_changes_and_logs_nothing(demo_ws):
    """Issue 14, point 8: the bulk buttons read the boxes when pressed; none ticked then: a warning, no call."""
    image = store.query_images(demo_ws.conn, store.ImageQuery(labels=("broken",)), 0, 1)[0][0]
    at = run_app()
    at.checkbox(key=f"sel_{image.id}").check().run()
    at.checkbox(key=f"sel_{image.id}").uncheck()  # and the button pressed before the rerun: one rerun for both
    at.button(key="bulk_missing").click().run()
    assert not at.exception, at.exception
    assert store.get_image(demo_ws.conn, image.id).label == "broken"
    assert not audit.query(demo_ws.conn, actions=("relabel",))
    assert any("No photo is ticked" in w.value for w in at.warning)


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


# ---- issue 13: upload with a split, a stream of photos, select all, demo trash, near-duplicates ----


def photo_ids(at: AppTest) -> int | None:
    """The id of the open photo, from its heading."""
    heads = [s.value for s in at.subheader if s.value.startswith("Photo #")]
    return int(heads[0].removeprefix("Photo #")) if heads else None


def test_upload_form_puts_photos_in_the_chosen_split_and_resets_label_and_split(ws_path):
    from tests.conftest import make_image

    at = run_app()
    assert [r.options for r in at.radio if r.key == "upload_split_0_en"] == [
        ["automatic", "train", "validation", "test"]
    ]
    assert any("MB per file" in c.value for c in at.caption)
    at.file_uploader(key="upload_files_0").set_value(
        [(f"p{i}.jpg", make_image(300 + i), "image/jpeg") for i in range(4)]
    )
    at.selectbox(key="upload_label_0_en").set_value("broken")
    at.radio(key="upload_split_0_en").set_value("test")
    at.run()
    at.radio(key="lang").set_value("ko").run()  # a language switch keeps the choices
    assert at.radio(key="upload_split_0_ko").value == "test" and at.selectbox(key="upload_label_0_ko").value == "broken"
    at.radio(key="lang").set_value("en").run()
    at.button(key="upload_go").click().run()
    assert not at.exception, at.exception
    assert any("Imported 4, duplicates 0, refused 0, skipped 0." in s.value for s in at.success)
    ws = open_workspace(ws_path)
    images = store.all_images(ws.conn)
    assert {(im.label, im.split, im.split_locked) for im in images} == {("broken", "test", True)} and len(images) == 4
    # the next drop starts from "automatic" for both: a label or a split is never silently reused
    assert at.selectbox(key="upload_label_1_en").value is None
    assert at.radio(key="upload_split_1_en").value is None
    at.file_uploader(key="upload_files_1").set_value([("q.jpg", make_image(400), "image/jpeg")])
    at.run()
    at.button(key="upload_go").click().run()
    newest = store.query_images(ws.conn, store.ImageQuery(), 0, 1)[0][0]
    assert (newest.label, newest.split_locked) == (None, False)
    ws.close()


def test_upload_caption_and_drop_zone_share_the_lower_limit(ws_path, monkeypatch):
    from streamlit import config

    monkeypatch.setenv("BOLTSCOPE_MAX_FILE_MB", "7")
    at = run_app()
    assert any("Up to 7 MB per file" in c.value for c in at.caption)
    assert {u.proto.max_upload_size_mb for u in at.file_uploader} == {7}
    before = config.get_option("server.maxUploadSize")
    config.set_option("server.maxUploadSize", 5)  # Streamlit's limit lower than core's: that one is shown
    try:
        at = run_app()
    finally:
        config.set_option("server.maxUploadSize", before)
    assert any("Up to 5 MB per file" in c.value for c in at.caption)
    assert {u.proto.max_upload_size_mb for u in at.file_uploader} == {5}


def test_label_key_labels_and_opens_the_next_photo_in_the_filter_and_back_works(demo_ws):
    normal = store.query_ids(demo_ws.conn, store.ImageQuery(labels=("normal",)))
    at = run_app()
    at.multiselect(key="f_labels").set_value(["normal"]).run()
    at.button(key=f"open_{normal[0]}").click().run()
    assert photo_ids(at) == normal[0]
    keys = [b for b in at.button if b.key and b.key.startswith("open_set_")]
    assert [(b.key, b.proto.shortcut) for b in keys] == [
        ("open_set_normal", "1"),
        ("open_set_broken", "2"),
        ("open_set_missing", "3"),
    ]  # the label set's order
    at.button(key="open_set_broken").click().run()  # key 2
    assert not at.exception, at.exception
    assert store.get_image(demo_ws.conn, normal[0]).label == "broken"
    assert photo_ids(at) == normal[1], "the next photo of the 'normal' filter is open"
    at.button(key="open_set_normal").click().run()  # key 1: confirms and moves on
    assert photo_ids(at) == normal[2]
    at.button(key="open_prev").click().run()
    assert photo_ids(at) == normal[1]
    at.button(key="open_prev").click().run()
    assert photo_ids(at) == normal[0], "back reaches the photo labelled out of the filter"
    at.button(key="open_next").click().run()  # skip without labelling
    assert photo_ids(at) == normal[1]
    at.button(key="open_next").click().run()
    assert photo_ids(at) == normal[2] and at.button(key="open_next").disabled
    at.button(key="open_set_missing").click().run()  # the last one: labelled, stays open, says so
    assert photo_ids(at) == normal[2] and store.get_image(demo_ws.conn, normal[2]).label == "missing"
    assert any("last photo in this filter" in s.value for s in at.success)


@pytest.fixture
def many_ws(ws_path):
    from tests.conftest import make_image

    ws = open_workspace(ws_path)
    uploads = [(f"{'broken' if i % 3 == 0 else 'normal'}/m{i}.jpg", make_image(600 + i)) for i in range(30)]
    assert ingest.import_uploads(ws, auth.Actor("setup", "admin"), uploads).count("imported") == 30
    yield ws
    ws.close()


def test_select_all_that_match_the_filter_covers_every_page(many_ws):
    at = run_app()
    at.selectbox(key="page_size").set_value(12).run()
    at.multiselect(key="f_labels").set_value(["normal"]).run()
    assert any(c.value.startswith("1–12 of 20") for c in at.caption)
    assert at.button(key="select_filter").label == "Select all 20 that match the filter"
    at.button(key="select_filter").click().run()
    assert any("All 20 photos that match the filter are selected" in m.value for m in at.markdown)
    assert all(c.value for c in at.checkbox if c.key and c.key.startswith("sel_"))
    at.button(key="select_none").click().run()  # clears every box, the visible ones too
    assert any(m.value.startswith("0 selected") for m in at.markdown)
    assert not [c for c in at.checkbox if c.key and c.key.startswith("sel_") and c.value]
    at.button(key="select_filter").click().run()
    at.button(key="bulk_missing").click().run()
    assert not at.exception, at.exception
    assert store.stats(many_ws.conn)["by_label"] == {"normal": 0, "broken": 10, "missing": 20}
    assert any("20 photo(s) relabelled as missing." in s.value for s in at.success)
    # a new filter drops the "all" selection; unticking a box leaves that photo out
    at.multiselect(key="f_labels").set_value(["missing"]).run()
    assert any(m.value.startswith("0 selected") for m in at.markdown)
    at.button(key="select_filter").click().run()
    first = store.query_ids(many_ws.conn, store.ImageQuery(labels=("missing",)))[0]
    at.checkbox(key=f"sel_{first}").uncheck().run()
    assert any("All 19 photos" in m.value for m in at.markdown)
    at.button(key="bulk_normal").click().run()
    assert store.get_image(many_ws.conn, first).label == "missing"
    assert store.stats(many_ws.conn)["by_label"]["normal"] == 19


def test_admin_moves_all_demo_photos_to_the_trash_after_confirming(ws_path):
    from tests.conftest import make_image

    ws = open_workspace(ws_path)
    admin = auth.Actor("setup", "admin")
    ingest.import_uploads(
        ws,
        admin,
        [(f"demo/{p.label}/d{i}.jpg", p.jpeg) for i, p in enumerate(demo.demo_set(4))],
        image_source="demo",
        event_source="import",
    )
    own = ingest.import_uploads(ws, admin, [("normal/own.jpg", make_image(1))]).imported_ids
    at = run_app()
    at.session_state["dataset_tab"] = "Trash"
    at.run()
    at.button(key="demo_trash").click().run()
    assert store.stats(ws.conn)["total"] == 5, "nothing moves before the confirmation"
    assert any("Move all 4 demo photos to the trash?" in w.value for w in at.warning)
    at.button(key="demo_trash_no").click().run()
    assert not [b for b in at.button if b.key == "demo_trash_yes"]
    at.button(key="demo_trash").click().run()
    at.button(key="demo_trash_yes").click().run()
    assert not at.exception, at.exception
    assert [im.id for im in store.all_images(ws.conn)] == own
    assert any("4 demo photo(s) moved to the trash." in s.value for s in at.success)
    assert not [b for b in at.button if b.key == "demo_trash"], "no demo photos left: no button"
    ws.close()


def test_labeler_sees_no_demo_trash(ws_path, monkeypatch):
    ws = open_workspace(ws_path)
    ingest.import_uploads(
        ws, auth.Actor("setup", "admin"), [("demo/normal/d.jpg", demo.demo_set(1)[0].jpeg)], image_source="demo"
    )
    ws.close()
    monkeypatch.setattr(auth, "local_actor", lambda name=None: auth.Actor("lee", "labeler"))
    at = run_app()
    assert "Trash" not in [t.label for t in at.tabs]
    assert not [b for b in at.button if b.key and b.key.startswith("demo_trash")]


@pytest.fixture
def near_ws(ws_path):
    """Six photos; #1/#2 and #3/#4 look almost the same (crafted perceptual hashes), #5 and #6 stand apart."""
    from tests.conftest import make_image

    ws = open_workspace(ws_path)
    uploads = [
        (f"{lab}/n{i}.jpg", make_image(800 + i))
        for i, lab in enumerate(["normal", "broken", "normal", "normal", "missing", "normal"])
    ]
    ids = ingest.import_uploads(ws, auth.Actor("setup", "admin"), uploads).imported_ids
    hashes = [
        "00000000000000ff",
        "00000000000000f8",
        "ff00000000000000",
        "fe00000000000000",
        "0f0f0f0f0f0f0f0f",
        "f0f0f0f0f0f0f0f0",
    ]
    with ws.conn:  # test-only: craft the hashes the health check compares
        ws.conn.executemany("UPDATE images SET phash = ? WHERE id = ?", list(zip(hashes, ids, strict=True)))
    yield ws, ids
    ws.close()


def test_near_duplicates_show_as_pairs_with_keep_trash_and_relabel(near_ws):
    ws, ids = near_ws
    a, b, c, d = ids[:4]
    at = run_app()
    at.session_state["dataset_tab"] = "Balance & health"
    at.run()
    assert not at.exception, at.exception
    assert any(s.value == "Near-duplicate pairs: 2" for s in at.subheader)
    texts = [m.value for m in at.markdown]
    assert f"**#{a}** · **normal** · {ui_split(ws, a)}" in texts
    assert f"**#{b}** · **broken** · {ui_split(ws, b)}" in texts
    assert {k for k in (f"near_keep_{a}_{b}", f"near_keep_{c}_{d}") if at.button(key=k)} == {
        f"near_keep_{a}_{b}",
        f"near_keep_{c}_{d}",
    }
    assert at.button(key=f"near_set_{a}_{b}_{b}_broken").proto.type == "primary"  # its label, highlighted

    at.button(key=f"near_set_{a}_{b}_{b}_normal").click().run()  # relabel: the pair now agrees
    assert store.get_image(ws.conn, b).label == "normal"
    at.button(key=f"near_keep_{a}_{b}").click().run()  # keep: looked at, both stay, the pair goes
    assert not at.exception, at.exception
    assert not [x for x in at.button if x.key == f"near_keep_{a}_{b}"]
    assert any(s.value == "Near-duplicate pairs: 1" for s in at.subheader)
    assert store.stats(ws.conn)["total"] == 6
    at.button(key=f"near_trash_{c}_{d}_{d}").click().run()  # trash one of the other pair
    assert store.stats(ws.conn)["total"] == 5 and store.get_image(ws.conn, d).deleted_at
    assert any(s.value == "Near-duplicate pairs: 0" for s in at.subheader)
    at = run_app()  # a new session: the kept pair stays hidden
    at.session_state["dataset_tab"] = "Balance & health"
    at.run()
    assert any(s.value == "Near-duplicate pairs: 0" for s in at.subheader)


def ui_split(ws, image_id: int) -> str:
    return {"train": "train", "val": "validation", "test": "test"}[store.get_image(ws.conn, image_id).split]
