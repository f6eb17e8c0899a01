"""Issue 15, section 3: the buttons that had their own `if st.button(...)` handlers now act through ui.act. An
account whose role is lowered by hand (in SQL, so its session stays open) between the page being drawn and the
click is refused by core, the refusal is audited (`refused`, with the role the account has now) and flashed in
the common words; nothing changes. One test per page whose handlers were converted."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core import audit, jobs, runs, store, users
from tests.conftest import make_image
from tests.core.test_eval_promote import crafted_run
from tests.core.train_helpers import ADMIN, add_demo
from tests.ui.test_stale_actors import signed_in

REFUSED = "needs the role"  # error.permission, as the flash shows it


@pytest.fixture(autouse=True)
def sign_in_required(monkeypatch):
    monkeypatch.delenv("BOLTSCOPE_NO_AUTH", raising=False)
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)  # no real worker here


def demote(ws, name: str, role: str) -> None:
    """A role lowered without ending the session (by hand in the database): ui.act must read it again."""
    ws.conn.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))


def click_demoted(ws, at, page: str, button: str, now: str, prepare=None) -> None:
    """Draw the page for the trainer kim (then `prepare(at)`: set widgets), lower kim's role to `now` by hand,
    click `button`."""
    demote(ws, "kim", "trainer")
    at.run()  # the navigation registers the pages of the role first
    at.switch_page(f"pages/{page}").run()
    if prepare:
        prepare(at)
    assert not at.button(key=button).disabled, button
    assert "flash" not in at.session_state  # shown already: what follows is this click's
    demote(ws, "kim", now)
    at.button(key=button).click().run()
    assert not at.exception, at.exception


def refusals(ws) -> list[tuple[str, str, str]]:
    """The refusals audited, oldest first."""
    return [(r.user, r.target, r.details["role"]) for r in reversed(audit.query(ws.conn, actions=("refused",)))]


def flashed(at) -> bool:
    """The refusal, translated, shown at the top of the page."""
    return any(REFUSED in e.value for e in at.error)


def flashed_for_later(at) -> bool:
    """A page the lowered role may no longer open says so (app.py); the refusal waits, translated, in the
    session for the next page's flash."""
    kind, text = at.session_state["flash"]
    return kind == "error" and REFUSED in text and any("needs the role" in w.value for w in at.warning)


@pytest.mark.parametrize(
    ("button", "unchanged"),
    [
        ("admin_set_role", lambda ws: users.get(ws.conn, "kim").role == "trainer"),
        ("admin_set_password", lambda ws: not users.get(ws.conn, "kim").has_password),
        ("admin_disable", lambda ws: not users.get(ws.conn, "kim").disabled),
    ],
)
def test_admin_buttons(ws, button, unchanged):
    users.add(ws.conn, ADMIN, "kim", "trainer", None, "kim@example.com")  # no password yet
    at = signed_in(ws, "ada", "admin", "admin.py")
    at.selectbox(key="admin_pick").select("kim").run()
    at.selectbox(key="admin_role_kim_en").select("viewer").run()
    at.text_input(key="admin_pw_kim").input("a new long password").run()
    demote(ws, "ada", "trainer")
    at.button(key=button).click().run()
    assert not at.exception, at.exception
    assert unchanged(ws)
    assert refusals(ws) == [("ada", "users", "trainer")]
    assert flashed_for_later(at)


def test_admin_create_account_form(ws):
    at = signed_in(ws, "ada", "admin", "admin.py")
    at.text_input(key="admin_new_name").input("kim")
    at.text_input(key="admin_new_password").input("long enough!")
    demote(ws, "ada", "labeler")
    next(b for b in at.button if "Create" in b.label).click().run()
    assert not at.exception, at.exception
    assert users.get(ws.conn, "kim") is None
    assert refusals(ws) == [("ada", "users", "labeler")]
    assert flashed_for_later(at)


def new_ratio(at) -> None:
    at.number_input(key="split_train").set_value(60).run()


@pytest.mark.slow  # about 10 s on a 2-core machine
def test_dataset_upload_split_and_export(ws):
    add_demo(ws, 12)
    ratios = store.split_settings(ws.conn, ws.settings.split_ratios)
    at = signed_in(ws, "kim", "trainer", "dataset.py")
    at.file_uploader(key="upload_files_0").set_value([("p.jpg", make_image(500), "image/jpeg")]).run()
    click_demoted(ws, at, "dataset.py", "upload_go", "viewer")
    assert flashed(at)
    at.session_state["dataset_tab"] = "Splits & export"
    click_demoted(ws, at, "dataset.py", "split_apply", "viewer", new_ratio)
    assert flashed(at)
    click_demoted(ws, at, "dataset.py", "export_go", "viewer")
    assert flashed(at)
    assert len(store.all_images(ws.conn)) == 12
    assert store.split_settings(ws.conn, ws.settings.split_ratios) == ratios
    assert not ws.layout.exports.exists() or not any(ws.layout.exports.glob("*.zip"))
    assert refusals(ws) == [("kim", "upload", "viewer"), ("kim", "split", "viewer"), ("kim", "export", "viewer")]
    assert "upload_report" not in at.session_state and "export_path" not in at.session_state


def test_train_start_quick_and_sweep(ws):
    add_demo(ws, 12)
    at = signed_in(ws, "kim", "trainer", "train.py")
    at.selectbox(key="train_arch_en").set_value("tiny_cnn").run()
    for button in ("train_start", "train_quick", "sweep_start"):
        click_demoted(ws, at, "train.py", button, "labeler")
        assert flashed_for_later(at), button
    assert jobs.list_jobs(ws.conn) == []
    assert refusals(ws) == [("kim", "train", "labeler")] * 3


def test_train_start_queues_what_the_form_holds_when_clicked(ws):
    """The other side of reading widgets in the callback: the settings are the form's at the click, even when
    the changes reach the server together with the click (the button was drawn with the old ones)."""
    add_demo(ws, 12)
    at = signed_in(ws, "kim", "trainer", "train.py")
    at.selectbox(key="train_arch_en").set_value("tiny_cnn").run()
    at.number_input(key="train_epochs").set_value(4)
    at.selectbox(key="train_lr").set_value(3e-3)
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    [job] = jobs.list_jobs(ws.conn)
    assert (job.config.arch, job.config.epochs, job.config.lr, job.created_by) == ("tiny_cnn", 4, 3e-3, "kim")


@pytest.mark.slow  # about 11 s on a 2-core machine
def test_evaluate_operating_point_promote_and_export(ws):
    add_demo(ws, 30)
    test_labels = [im.label for im in sorted(store.all_images(ws.conn), key=lambda im: im.id) if im.split == "test"]
    run = crafted_run(ws, test_labels)
    at = signed_in(ws, "kim", "trainer", "evaluate.py")
    for button in ("eval_op_save", "eval_promote", "eval_export_build"):
        click_demoted(ws, at, "evaluate.py", button, "labeler")
        assert flashed(at), button
    assert runs.get_run(ws.conn, run.id).operating_point is None
    assert runs.production_run_id(ws.conn) is None
    assert refusals(ws) == [("kim", "promote", "labeler"), ("kim", "promote", "labeler"), ("kim", "export", "labeler")]
    assert "eval_exports" not in at.session_state or not at.session_state["eval_exports"]


@pytest.mark.slow  # trains a tiny model first
def test_diagnose_save_with_the_right_label(ws):
    import hashlib

    from core import demo
    from tests.core.train_helpers import promoted_tiny_run

    promoted_tiny_run(ws)
    photos = len(store.all_images(ws.conn))
    photo = demo.render_crop(7, "normal").jpeg
    key = f"diag_save_{hashlib.sha256(photo).hexdigest()[:16]}"
    at = signed_in(ws, "lee", "labeler", "diagnose.py")
    at.file_uploader(key="diag_files").set_value([("a.jpg", photo, "image/jpeg")]).run()
    at.radio(key=f"{key}_label_en").set_value("broken").run()
    assert not at.button(key=key).disabled
    demote(ws, "lee", "viewer")
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    assert len(store.all_images(ws.conn)) == photos
    assert refusals(ws) == [("lee", "upload", "viewer")]
    assert flashed(at)
    assert f"{key}_done" not in at.session_state  # no outcome line under the button: nothing was saved


def test_operating_point_costs_are_read_from_the_table_edits_at_the_click(ws, monkeypatch):
    """The save button's callback rebuilds the cost matrix from the table's edits kept in the session (the
    editor's state, {"edited_rows": {row: {column: value}}}) as the page does: an edit made just before the click
    counts, a column named in another language is ignored."""
    import streamlit as st

    from ui import components as ui
    from ui.panels import evaluate_op

    run = SimpleNamespace(id=7, class_names=list(ui.label_names(ws)))  # what _costs_now reads of a run
    normal = run.class_names.index("normal")
    other = next(i for i, name in enumerate(run.class_names) if name != "normal")
    shown = ui.label_names(ws)["normal"]  # the table's columns are the labels' display names
    state = {f"eval_costs_on_{run.id}": False}
    monkeypatch.setattr(st, "session_state", state)
    assert evaluate_op._costs_now(ws, run) is None  # the toggle is off: the target recall decides
    state[f"eval_costs_on_{run.id}"] = True
    costs = evaluate_op._costs_now(ws, run)
    assert costs[other][normal] == 50.0 and costs[other][other] == 0.0  # the defaults
    state[f"eval_costs_{run.id}"] = {"edited_rows": {other: {shown: 120, "정상": 7}}}
    costs = evaluate_op._costs_now(ws, run)
    assert costs[other][normal] == 120.0 and 7.0 not in [c for row in costs for c in row]
