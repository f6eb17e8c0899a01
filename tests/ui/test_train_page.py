"""AppTest: the Train page — weights notes, starting jobs, roles, live job detail, cancel, failures."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from core import auth, config, db, demo, ingest, jobs
from core.workspace import open_workspace
from tests.conftest import ROOT


@pytest.fixture
def demo_ws(ws_path, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))  # no hub weights on this "machine"
    launched = []
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: launched.append(a))  # no real worker here
    ws = open_workspace(ws_path)
    uploads = [(f"{p.label}/d{i}.jpg", p.jpeg) for i, p in enumerate(demo.demo_set(12, seed=5))]
    ingest.import_uploads(ws, auth.Actor("setup", "admin"), uploads)
    ws.launched = launched
    yield ws
    ws.close()


def train_page(actor: auth.Actor | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if actor is not None:
        at.session_state["actor"] = actor
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    kinds = ("success", "warning", "info", "error", "caption", "markdown")
    parts = [e.value for kind in kinds for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def test_default_backbone_has_offline_weights(demo_ws):
    at = train_page()
    assert at.title[0].value == "Train"
    assert at.selectbox(key="train_arch_en").value == "efficientnet_lite0"
    assert any("Pretrained ImageNet weights found (pip package)" in s.value for s in at.success)
    assert "No training jobs yet." in texts(at)


def test_resnet50_without_weights_says_where_to_put_the_file(demo_ws):
    at = train_page()
    at.selectbox(key="train_arch_en").set_value("resnet50").run()
    warning = next(w.value for w in at.warning if "No pretrained weights" in w.value)
    assert "resnet50-11ad3fa6.pth" in warning
    assert str(demo_ws.layout.weights) in warning
    assert "from scratch" in warning
    box = at.checkbox(key="train_pretrained_resnet50")
    assert box.disabled and box.value is False  # cannot ask for what is not there


def test_start_queues_a_job_with_the_form_settings(demo_ws):
    at = train_page()
    at.selectbox(key="train_arch_en").set_value("tiny_cnn").run()
    at.number_input(key="train_epochs").set_value(3).run()
    at.selectbox(key="train_batch").set_value(8).run()
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    listing = jobs.list_jobs(demo_ws.conn)
    assert len(listing) == 1
    job = listing[0]
    assert (job.status, job.config.arch, job.config.epochs, job.config.batch_size) == ("queued", "tiny_cnn", 3, 8)
    assert job.created_by == auth.local_actor().name
    assert demo_ws.launched, "a worker is started for the queued job"
    assert "Job #1 queued." in texts(at)
    assert "Waiting for the worker" in texts(at)


def test_sweep_queues_the_grid(demo_ws):
    at = train_page()
    at.selectbox(key="train_arch_en").set_value("tiny_cnn").run()
    at.multiselect(key="sweep_batches").set_value([8, 16]).run()
    at.multiselect(key="sweep_lrs").set_value([1e-3, 3e-3, 1e-2]).run()
    at.button(key="sweep_start").click().run()
    listing = jobs.list_jobs(demo_ws.conn)
    assert sorted((j.config.batch_size, j.config.lr) for j in listing) == [
        (b, lr) for b in (8, 16) for lr in (1e-3, 3e-3, 1e-2)
    ]
    assert len({j.sweep for j in listing}) == 1


def test_labeler_has_no_train_page(demo_ws):  # the navigation registers it for trainers and admins only
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["actor"] = auth.Actor("lee", "labeler")
    at.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/train.py")


def _running_job(ws, progress: dict) -> int:
    job_id = jobs.submit(ws.conn, auth.local_actor(), config.TrainConfig(arch="tiny_cnn", epochs=5, image_size=64))
    jobs.claim(ws.conn)
    jobs.heartbeat(ws.conn, job_id, progress)
    return job_id


def test_running_job_shows_progress_and_cancel_stops_it(demo_ws):
    job_id = _running_job(
        demo_ws,
        {
            "phase": "train",
            "epoch": 2,
            "epochs": 5,
            "step": 3,
            "steps": 6,
            "lr": 5e-4,
            "images_per_s": 123.0,
            "eta_s": 75,
        },
    )
    at = train_page()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Epoch"] == "2 / 5"
    assert metrics["Photos / s"] == "123"
    assert metrics["Time left"] == "1 min 15 s"
    at.button(key=f"cancel_{job_id}").click().run()
    assert jobs.get_job(demo_ws.conn, job_id).cancel_requested
    assert jobs.heartbeat(demo_ws.conn, job_id) is True  # what the worker reads at its next beat


def test_failed_job_shows_cause_and_hint_and_can_resume(demo_ws):
    job_id = _running_job(demo_ws, {})
    jobs.finish(demo_ws.conn, job_id, "failed", "the GPU ran out of memory", "try batch size 16")
    at = train_page()
    error = at.error[0].value
    assert "the GPU ran out of memory" in error and "try batch size 16" in error
    at.button(key=f"resume_{job_id}").click().run()
    assert jobs.get_job(demo_ws.conn, job_id).status == "queued"


def test_korean_keeps_the_choices_made_in_english(demo_ws):
    at = train_page()
    at.selectbox(key="train_augment_en").set_value("photo").run()
    at.radio(key="lang").set_value("ko").run()
    assert at.title[0].value == "학습"
    assert any("사전학습 ImageNet 가중치 있음" in s.value for s in at.success)
    box = at.selectbox(key="train_augment_ko")
    assert box.value == "photo" and "손으로 찍은 사진" in box.options


def test_progress_json_is_what_the_page_reads(demo_ws):
    """The page reads the row only; a progress dict with unknown keys or a missing phase must not break it."""
    job_id = _running_job(demo_ws, {"unexpected": 1})
    with db.transaction(demo_ws.conn):
        demo_ws.conn.execute("UPDATE jobs SET progress = ? WHERE id = ?", (json.dumps({"epoch": 1}), job_id))
    at = train_page()
    assert "Starting" in texts(at) or at.metric


# ---- issue 13: notes bound to a job, resumed jobs, quick-model progress, kinds, races --------------------------


def _table(at: AppTest):
    return at.dataframe[0].value


def test_queued_note_stays_until_the_job_moves_on(demo_ws):
    at = train_page()
    at.selectbox(key="train_arch_en").set_value("tiny_cnn").run()
    at.button(key="train_start").click().run()
    assert "Job #1 queued." in texts(at)
    at.run()  # what the live part does every 2 s in the browser: the job still waits, so the note stays
    assert "Job #1 queued." in texts(at)
    jobs.claim(demo_ws.conn)  # a worker took the job: the note is stale now
    at.run()
    assert "Job #1 queued." not in texts(at)
    assert "Waiting for the worker" not in texts(at)


def test_note_is_dropped_when_another_job_is_watched(demo_ws):
    at = train_page()
    at.selectbox(key="train_arch_en").set_value("tiny_cnn").run()
    at.button(key="train_start").click().run()
    jobs.submit(demo_ws.conn, auth.local_actor(), config.TrainConfig(arch="tiny_cnn", epochs=2, image_size=64))
    at.run()
    assert "Job #1 queued." in texts(at)  # job 1 is still the one watched, still queued
    at.selectbox(key="job_pick_en_2").set_value(2).run()
    assert "Job #1 queued." not in texts(at)


def test_resumed_job_is_labelled_in_table_and_detail(demo_ws):
    job_id = _running_job(demo_ws, {"phase": "train", "epoch": 2, "epochs": 5})
    jobs.finish(demo_ws.conn, job_id, "interrupted", "the worker process stopped without finishing")
    jobs.resume(demo_ws.conn, auth.local_actor(), job_id)
    at = train_page()
    assert "resumed" in _table(at)["progress"][0]  # queued again: resumed, the epoch not known yet
    jobs.claim(demo_ws.conn)
    jobs.heartbeat(
        demo_ws.conn, job_id, {"phase": "train", "epoch": 3, "epochs": 5, "step": 1, "steps": 6, "resumed_from": 2}
    )
    at.run()
    assert _table(at)["progress"][0] == "Epoch 3/5 · step 1/6 · resumed from epoch 2"
    assert any(c.value.endswith("resumed from epoch 2 · attempt 2") for c in at.caption)
    at.radio(key="lang").set_value("ko").run()
    assert "에폭 2부터 재개" in _table(at)["진행"][0]


def _quick_job(ws, progress: dict) -> int:
    job_id = jobs.submit(
        ws.conn,
        auth.local_actor(),
        config.TrainConfig(arch="tiny_cnn", kind="quick", epochs=1, warmup_epochs=0, image_size=64),
    )
    jobs.claim(ws.conn)
    jobs.heartbeat(ws.conn, job_id, progress)
    return job_id


def test_quick_model_progress_is_embeddings_then_fitting(demo_ws):
    job_id = _quick_job(demo_ws, {"phase": "embed", "step": 120, "steps": 730})
    at = train_page()
    assert _table(at)["progress"][0] == "Embeddings 120/730"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Stage"] == "embeddings" and metrics["Done"] == "120 / 730" and "Epoch" not in metrics
    assert "Epoch 0" not in texts(at)
    jobs.heartbeat(demo_ws.conn, job_id, {"phase": "fit", "step": 5, "steps": 21, "photos": 619})
    at.run()
    assert _table(at)["progress"][0] == "Fitting the classifier 5/21"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Stage"] == "fitting" and metrics["Done"] == "5 / 21"
    at.radio(key="lang").set_value("ko").run()
    assert _table(at)["진행"][0] == "분류기 학습 5/21"


def test_job_kinds_and_empty_figures_are_translated(demo_ws):
    job_id = jobs.submit(
        demo_ws.conn, auth.local_actor(), config.TrainConfig(kind="suspects", epochs=1, warmup_epochs=0)
    )
    jobs.claim(demo_ws.conn)
    jobs.finish(demo_ws.conn, job_id, "done")
    at = train_page()
    table = _table(at)
    assert table["kind"][0] == "suspect labels" and table["val macro-F1"][0] == "—"
    assert "train.kind" not in texts(at) + " ".join(at.selectbox(key=f"job_pick_en_{job_id}").options)
    at.radio(key="lang").set_value("ko").run()
    table = _table(at)
    assert table["종류"][0] == "의심 라벨 찾기" and table["검증 macro-F1"][0] == "—"
    assert "train.kind" not in texts(at) + " ".join(at.selectbox(key=f"job_pick_ko_{job_id}").options)


def test_cancel_of_a_job_that_ended_meanwhile_says_so_translated(demo_ws):
    job_id = _running_job(demo_ws, {"phase": "train", "epoch": 1, "epochs": 5})
    at = train_page()
    jobs.finish(demo_ws.conn, job_id, "done")  # it ended between the page being drawn and the click
    at.button(key=f"cancel_{job_id}").click().run()
    assert not at.exception, at.exception
    assert any(f"Job #{job_id} had already ended; there was nothing to cancel." in e.value for e in at.error)
    assert jobs.get_job(demo_ws.conn, job_id).status == "done"
    at.radio(key="lang").set_value("ko").run()  # the message is a text key: it follows the language
    assert any(f"작업 #{job_id}은(는) 이미 끝나서 취소할 것이 없었습니다." in e.value for e in at.error)


def test_resume_of_a_job_someone_else_resumed_says_so(demo_ws):
    job_id = _running_job(demo_ws, {})
    jobs.finish(demo_ws.conn, job_id, "failed", "boom")
    at = train_page()
    jobs.resume(demo_ws.conn, auth.local_actor(), job_id)  # another user was quicker
    at.button(key=f"resume_{job_id}").click().run()
    assert not at.exception, at.exception
    assert any(f"Job #{job_id} is already queued or running." in e.value for e in at.error)


def test_failed_job_cause_is_shown_in_the_users_language(demo_ws):
    job_id = _running_job(demo_ws, {})
    jobs.finish(
        demo_ws.conn,
        job_id,
        "failed",
        "the GPU ran out of memory",
        "try batch size 16",
        {"error_key": "train.error.gpu_memory", "hint_key": "train.hint.smaller_batch", "hint_detail": {"batch": 16}},
    )
    at = train_page()
    at.radio(key="lang").set_value("ko").run()
    error = at.error[0].value
    assert "GPU 메모리가 부족했습니다" in error and "배치 크기 16" in error
