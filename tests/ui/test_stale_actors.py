"""Issue 14, point 2: a button drawn for a user acts as that user only while their session is open and their
role allows it. Streamlit runs a button's callback before app.py, with the actor bound when the button was
drawn; every mutating callback now goes through ui.act, which asks the sessions and users tables again.

The four attacks of the report, each through the page's own button (AppTest, signed in with a server-side
session): a disabled user relabels, a demoted labeler relabels, a trainer demoted to viewer resumes a job, an
idle-expired trainer cancels one. Plus the source check that no page binds the actor into a callback."""

from __future__ import annotations

import ast

import pytest
from streamlit.testing.v1 import AppTest

from core import audit, auth, config, demo, ingest, jobs, sessions, store, users
from tests.conftest import ROOT
from tests.ui.test_review_decisions import misclassified_run

ADMIN = auth.Actor("root", "admin")
PASSWORD = "long enough password"


@pytest.fixture(autouse=True)
def sign_in_required(monkeypatch):
    monkeypatch.delenv("BOLTSCOPE_NO_AUTH", raising=False)
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)  # no real worker here


@pytest.fixture
def photos(ws):
    ingest.import_uploads(ws, ADMIN, [(f"{p.label}/d{i}.jpg", p.jpeg) for i, p in enumerate(demo.demo_set(6, seed=3))])
    return [image.id for image in store.all_images(ws.conn)]


def signed_in(ws, name: str, role: str, page: str) -> AppTest:
    """A tab of `name`, signed in (a server-side session), showing pages/<page>."""
    users.add(ws.conn, ADMIN, name, role, PASSWORD)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["session_id"] = sessions.create(ws.conn, auth.Actor(name, role)).session_id
    at.run()
    at.switch_page(f"pages/{page}").run()
    assert not at.exception, at.exception
    assert at.session_state["actor"] == auth.Actor(name, role)
    return at


def signed_out(at: AppTest) -> bool:
    return "actor" not in at.session_state and at.text_input(key="signin_name") is not None


def labels(ws) -> dict[int, str | None]:
    return {image.id: image.label for image in store.all_images(ws.conn)}


def test_a_disabled_user_cannot_relabel_with_a_button_drawn_before(ws, photos):
    at = signed_in(ws, "lee", "labeler", "dataset.py")
    at.button(key=f"open_{photos[0]}").click().run()
    before = labels(ws)
    users.set_disabled(ws.conn, ADMIN, "lee", True)
    target = next(n for n in ("normal", "broken", "missing") if n != before[photos[0]])
    at.button(key=f"open_set_{target}").click().run()
    assert not at.exception, at.exception
    assert labels(ws) == before
    assert not [e for e in store.history(ws.conn, photos[0]) if e.user == "lee"]
    assert signed_out(at)
    assert any("changed your account" in i.value for i in at.info)


def test_a_labeler_demoted_by_hand_is_refused_by_core_and_the_refusal_audited(ws, photos):
    """A role changed without ending the session (say, by hand in the database): the button's callback acts
    with the role the account has now, so core refuses it, the refusal is audited and shown."""
    at = signed_in(ws, "lee", "labeler", "dataset.py")
    for image_id in photos[:3]:
        at.checkbox(key=f"sel_{image_id}").check()
    at.run()
    before = labels(ws)
    ws.conn.execute("UPDATE users SET role = 'viewer' WHERE name = 'lee'")
    at.button(key="bulk_missing").click().run()
    assert not at.exception, at.exception
    assert labels(ws) == before
    refused = audit.query(ws.conn, actions=("refused",))
    assert [(r.user, r.target, r.details["role"]) for r in refused] == [("lee", "relabel", "viewer")]
    assert any("relabel" in e.value.lower() or "labeler" in e.value for e in at.error)


def test_a_demoted_labeler_cannot_relabel_on_the_review_card(ws):
    misclassified_run(ws)
    at = signed_in(ws, "lee", "labeler", "review.py")
    before = labels(ws)
    decided = ws.conn.execute("SELECT COUNT(*) FROM review_decisions").fetchone()[0]
    users.set_role(ws.conn, ADMIN, "lee", "viewer")
    at.button(key="review_set_missing").click().run()
    assert not at.exception, at.exception
    assert labels(ws) == before
    assert ws.conn.execute("SELECT COUNT(*) FROM review_decisions").fetchone()[0] == decided
    assert signed_out(at)


def _job(ws, status: str) -> int:
    job_id = jobs.submit(ws.conn, ADMIN, config.TrainConfig(arch="tiny_cnn", epochs=5, image_size=64))
    jobs.claim(ws.conn)
    jobs.heartbeat(ws.conn, job_id, {})
    if status != "running":
        jobs.finish(ws.conn, job_id, status, "the worker process stopped without finishing")
    return job_id


def test_a_trainer_demoted_to_viewer_cannot_resume_a_job(ws, photos):
    job_id = _job(ws, "interrupted")
    at = signed_in(ws, "kim", "trainer", "train.py")
    users.set_role(ws.conn, ADMIN, "kim", "viewer")
    at.button(key=f"resume_{job_id}").click().run()
    assert not at.exception, at.exception
    assert jobs.get_job(ws.conn, job_id).status == "interrupted"
    assert signed_out(at)


def test_an_idle_expired_trainer_cannot_cancel_a_job(ws, photos, monkeypatch):
    monkeypatch.setenv("BOLTSCOPE_SESSION_MINUTES", "1")
    job_id = _job(ws, "running")
    at = signed_in(ws, "kim", "trainer", "train.py")
    ws.conn.execute("UPDATE sessions SET last_seen = '2020-01-01T00:00:00.000Z'")
    at.button(key=f"cancel_{job_id}").click().run()
    assert not at.exception, at.exception
    assert not jobs.get_job(ws.conn, job_id).cancel_requested
    assert signed_out(at)
    assert any("without activity" in i.value for i in at.info)


def test_a_button_still_works_while_the_session_is_open(ws, photos):
    """The check refuses only what it should: the same trainer, still signed in, resumes the job."""
    job_id = _job(ws, "interrupted")
    at = signed_in(ws, "kim", "trainer", "train.py")
    at.button(key=f"resume_{job_id}").click().run()
    assert jobs.get_job(ws.conn, job_id).status == "queued"
    assert at.session_state["actor"] == auth.Actor("kim", "trainer")


def _calls(tree: ast.AST):
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def test_no_page_binds_the_actor_into_a_callback_or_draws_a_live_view_without_the_session_check():
    """Source check over pages/ and ui/ (where the page helpers and their callbacks live): a button's on_click never
    carries `me` (the actor of the run that drew it): a callback that changes something goes through ui.act; and
    every self-redrawing fragment is ui.live."""
    bound, unguarded = [], []
    sources = sorted((ROOT / "pages").glob("*.py")) + sorted((ROOT / "ui").rglob("*.py"))
    assert any(p.parent.name == "panels" for p in sources), "the page helpers are in ui/panels"
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree):
            keywords = {k.arg: k.value for k in call.keywords}
            if "on_click" in keywords and "me" in _names(keywords.get("args", ast.Tuple(elts=[]))) | _names(
                keywords["on_click"]
            ):
                bound.append(f"{path.name}:{call.lineno}")
            if "run_every" in keywords and path.name != "components.py":
                unguarded.append(f"{path.name}:{call.lineno}")
    assert bound == [] and unguarded == []
