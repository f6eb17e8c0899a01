"""AppTest: the Train page's distillation panel — no teacher, queueing a student, a refused plan, Korean."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core import auth, evaluation, jobs, label_set, runs, store
from core.workspace import open_workspace
from tests.conftest import ROOT
from tests.core.train_helpers import ADMIN, add_demo, run_job_here, tiny_config


@pytest.fixture
def teacher_ws(ws_path, monkeypatch):
    """45 demo photos and a promoted tiny_cnn teacher at 48 px; no real worker is started."""
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)
    ws = open_workspace(ws_path)
    add_demo(ws, 45)
    job_id = jobs.submit(ws.conn, ADMIN, tiny_config(epochs=1, image_size=48))
    assert run_job_here(ws, job_id) == "done"
    evaluation.promote(ws.conn, ADMIN, runs.run_for_job(ws.conn, job_id).id)
    yield ws
    ws.close()


def train_page(lang: str = "en") -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["lang"] = lang
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    kinds = ("success", "warning", "info", "error", "caption", "markdown", "toast")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def test_without_a_production_model_the_panel_says_what_to_do(ws_path, monkeypatch):
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)
    open_workspace(ws_path).close()
    at = train_page()
    assert "There is no production model to distil yet" in texts(at)
    assert not [b for b in at.button if b.key == "distill_start"]


def test_distil_queues_a_student_of_the_production_model(teacher_ws):
    teacher = runs.production_run_id(teacher_ws.conn)
    at = train_page()
    assert f"Teacher: run #{teacher} · tiny_cnn at 48 px" in texts(at)
    assert at.selectbox(key="distill_student_en").value == "efficientnet_lite0_short"
    assert at.number_input(key=f"distill_epochs_{teacher}").value == 15  # the teacher's 1, at least 15
    assert at.selectbox(key=f"distill_size_{teacher}").value == 64  # 0.6 × 48, at least 64
    at.selectbox(key=f"distill_size_{teacher}").set_value(96).run()
    at.number_input(key=f"distill_epochs_{teacher}").set_value(3).run()
    at.button(key="distill_start").click().run()
    assert not at.exception, at.exception
    job = jobs.list_jobs(teacher_ws.conn)[0]
    assert (job.kind, job.config.teacher_run, job.config.arch, job.config.image_size, job.config.epochs) == (
        "distill",
        teacher,
        "efficientnet_lite0_short",
        96,
        3,
    )
    assert job.created_by == auth.local_actor().name
    shown = texts(at)
    assert f"Job #{job.id} queued: run #{teacher} teaches a student." in shown
    assert f"Distilled from run #{teacher}" in shown


def test_a_refused_plan_is_said_and_nothing_is_queued(teacher_ws):
    label_set.add_label(teacher_ws.conn, ADMIN, "loose", "loose", "풀림")
    train = [im.id for im in store.all_images(teacher_ws.conn) if im.split == "train"]
    store.relabel(teacher_ws.conn, ADMIN, train[:3], "loose")
    before = len(jobs.list_jobs(teacher_ws.conn))
    at = train_page()
    at.button(key="distill_start").click().run()
    assert not at.exception, at.exception
    assert len(jobs.list_jobs(teacher_ws.conn)) == before
    assert any("the dataset now has normal, broken, missing, loose" in e.value for e in at.error), texts(at)


def test_the_panel_speaks_korean(teacher_ws):
    at = train_page("ko")
    shown = texts(at)
    assert "교사: 학습 #" in shown and "학생은 사진당" in shown
    assert [e for e in at.expander if e.label == "운영 모델을 더 빠른 학생 모델로 증류"]
