"""The job queue: roles, atomic claims, cancel, resume, stale-job reconciliation and worker launching."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from core import auth, db, jobs
from core.config import TrainConfig
from core.errors import NotFoundError, PermissionDenied, ValidationError

CONFIG = TrainConfig(arch="tiny_cnn", epochs=1, warmup_epochs=0, image_size=32, batch_size=8)
TRAINER = auth.Actor("tim", "trainer")


def status(ws, job_id):
    return jobs.get_job(ws.conn, job_id).status


def fake_running(ws, job_id, pid, heartbeat_age_s, host=None):
    """A running job row as a worker leaves it: its pid and host, and a heartbeat of a given age."""
    with db.transaction(ws.conn):
        ws.conn.execute(
            "UPDATE jobs SET status = 'running', worker_pid = ?, worker_host = ?, heartbeat_at = ? WHERE id = ?",
            (pid, host or socket.gethostname(), jobs._ago(heartbeat_age_s), job_id),
        )


@pytest.fixture
def dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()  # reaped: the pid is free
    return proc.pid


def test_submit_needs_the_trainer_role(ws, labeler, viewer):
    for actor in (labeler, viewer):
        with pytest.raises(PermissionDenied, match="'train' needs role 'trainer'"):
            jobs.submit(ws.conn, actor, CONFIG)
    assert jobs.list_jobs(ws.conn) == []
    job = jobs.get_job(ws.conn, jobs.submit(ws.conn, TRAINER, CONFIG))
    assert (job.status, job.kind, job.created_by, job.attempts) == ("queued", "train", "tim", 0)
    assert job.config == CONFIG and job.active and not job.cancel_requested


def test_unknown_job_is_not_found(ws, admin):
    with pytest.raises(NotFoundError, match="job 99"):
        jobs.get_job(ws.conn, 99)
    with pytest.raises(NotFoundError):
        jobs.cancel(ws.conn, admin, 99)


def test_claim_takes_the_oldest_queued_job(ws, admin):
    first, second = jobs.submit(ws.conn, admin, CONFIG), jobs.submit(ws.conn, admin, CONFIG)
    job = jobs.claim(ws.conn)
    assert job.id == first and job.status == "running" and job.attempts == 1
    assert job.worker_pid == os.getpid() and job.worker_host == socket.gethostname() and job.heartbeat_at
    assert jobs.claim(ws.conn, first) is None  # no longer queued
    assert jobs.claim(ws.conn, second).id == second
    assert jobs.claim(ws.conn) is None


def test_claim_is_atomic_across_connections(ws, admin):
    ids = [jobs.submit(ws.conn, admin, CONFIG) for _ in range(30)]
    claimed: list[list[int]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def take(slot: int) -> None:
        conn = db.connect(ws.layout.db_path)
        try:
            start.wait()
            while (job := jobs.claim(conn)) is not None:
                claimed[slot].append(job.id)
        finally:
            conn.close()

    threads = [threading.Thread(target=take, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    together = [job_id for part in claimed for job_id in part]
    assert sorted(together) == ids  # each job claimed exactly once
    assert all(jobs.get_job(ws.conn, i).attempts == 1 for i in ids)


def test_cancel_a_queued_job_at_once(ws, admin, labeler):
    job_id = jobs.submit(ws.conn, admin, CONFIG)
    with pytest.raises(PermissionDenied):
        jobs.cancel(ws.conn, labeler, job_id)
    assert jobs.cancel(ws.conn, TRAINER, job_id) == "cancelled"
    job = jobs.get_job(ws.conn, job_id)
    assert job.status == "cancelled" and job.finished_at and not job.active
    assert jobs.claim(ws.conn) is None


def test_cancel_a_running_job_asks_it_to_stop(ws, admin):
    job_id = jobs.submit(ws.conn, admin, CONFIG)
    jobs.claim(ws.conn)
    assert jobs.heartbeat(ws.conn, job_id) is False
    assert jobs.cancel(ws.conn, admin, job_id) == "running"
    assert status(ws, job_id) == "running" and jobs.get_job(ws.conn, job_id).cancel_requested
    assert jobs.heartbeat(ws.conn, job_id, {"epoch": 1, "step": 3}) is True
    assert jobs.get_job(ws.conn, job_id).progress == {"epoch": 1, "step": 3}
    jobs.finish(ws.conn, job_id, "cancelled", "stopped during epoch 1")
    job = jobs.get_job(ws.conn, job_id)
    assert job.status == "cancelled" and not job.cancel_requested and job.error == "stopped during epoch 1"


@pytest.mark.parametrize("final", ["done", "failed", "cancelled", "interrupted"])
def test_cancel_a_finished_job_is_refused(ws, admin, final):
    job_id = jobs.submit(ws.conn, admin, CONFIG)
    jobs.claim(ws.conn)
    jobs.finish(ws.conn, job_id, final)
    with pytest.raises(ValidationError, match=f"job {job_id} is {final}; only queued or running"):
        jobs.cancel(ws.conn, admin, job_id)
    assert status(ws, job_id) == final


def test_finish_refuses_an_active_status(ws, admin):
    job_id = jobs.submit(ws.conn, admin, CONFIG)
    with pytest.raises(ValidationError, match="'running'"):
        jobs.finish(ws.conn, job_id, "running")


@pytest.mark.parametrize("final", ["cancelled", "interrupted", "failed"])
def test_resume_queues_a_stopped_job_again(ws, admin, labeler, final):
    job_id = jobs.submit(ws.conn, admin, CONFIG)
    jobs.claim(ws.conn)
    jobs.finish(ws.conn, job_id, final, "it stopped", "a hint")
    with pytest.raises(PermissionDenied):
        jobs.resume(ws.conn, labeler, job_id)
    jobs.resume(ws.conn, TRAINER, job_id)
    job = jobs.get_job(ws.conn, job_id)
    assert (job.status, job.finished_at, job.error, job.error_hint) == ("queued", None, None, None)
    again = jobs.claim(ws.conn)
    assert again.id == job_id and again.attempts == 2 and again.started_at == job.started_at


@pytest.mark.parametrize("state", ["queued", "running", "done"])
def test_resume_refuses_other_states(ws, admin, state):
    job_id = jobs.submit(ws.conn, admin, CONFIG)
    if state != "queued":
        jobs.claim(ws.conn)
    if state == "done":
        jobs.finish(ws.conn, job_id, "done")
    with pytest.raises(ValidationError, match="cancelled, interrupted, failed"):
        jobs.resume(ws.conn, admin, job_id)
    assert status(ws, job_id) == state


def test_reconcile_marks_a_dead_workers_job_interrupted(ws, admin, dead_pid):
    dead, alive, young = (jobs.submit(ws.conn, admin, CONFIG) for _ in range(3))
    fake_running(ws, dead, dead_pid, 60)
    fake_running(ws, alive, os.getpid(), 0)
    fake_running(ws, young, dead_pid, 1)  # heartbeat still fresh: the worker may only be slow to beat
    assert jobs.reconcile(ws.conn) == [dead]
    job = jobs.get_job(ws.conn, dead)
    assert job.status == "interrupted" and job.finished_at and "killed or crashed" in job.error
    assert status(ws, alive) == "running" and status(ws, young) == "running"
    assert jobs.reconcile(ws.conn) == []
    jobs.resume(ws.conn, admin, dead)  # an interrupted job can go on
    assert status(ws, dead) == "queued"


def test_reconcile_leaves_a_live_process_with_a_late_heartbeat(ws, admin):
    job_id = jobs.submit(ws.conn, admin, CONFIG)
    fake_running(ws, job_id, os.getpid(), 60)
    assert jobs.reconcile(ws.conn) == [] and status(ws, job_id) == "running"


def test_reconcile_another_hosts_job_only_after_a_long_silence(ws, admin):
    recent, silent = jobs.submit(ws.conn, admin, CONFIG), jobs.submit(ws.conn, admin, CONFIG)
    fake_running(ws, recent, 1, 60, host="other-host")  # its pid means nothing here
    fake_running(ws, silent, 1, jobs.DEAD_S + 60, host="other-host")
    assert jobs.reconcile(ws.conn) == [silent]
    assert status(ws, recent) == "running"


def test_process_alive():
    assert jobs.process_alive(os.getpid())
    assert not jobs.process_alive(None) and not jobs.process_alive(0) and not jobs.process_alive(-5)
    proc = subprocess.Popen(["true"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "child never became a zombie"
            time.sleep(0.01)
        assert not jobs.process_alive(proc.pid)  # exited, not yet reaped
    finally:
        proc.wait()
    assert not jobs.process_alive(proc.pid)


def test_live_workers_are_fresh_and_running(ws):
    assert jobs.live_workers(ws.conn) == []
    jobs.worker_beat(ws.conn)
    (me,) = jobs.live_workers(ws.conn)
    assert me["pid"] == os.getpid() and me["host"] == socket.gethostname()
    with db.transaction(ws.conn):
        ws.conn.execute("UPDATE workers SET heartbeat_at = ?", (jobs._ago(jobs.STALE_S + 5),))
    assert jobs.live_workers(ws.conn) == []
    jobs.worker_beat(ws.conn)
    assert len(jobs.live_workers(ws.conn)) == 1
    jobs.worker_gone(ws.conn)
    assert jobs.live_workers(ws.conn) == []


@pytest.fixture
def launches(monkeypatch):
    calls: list[tuple[Path, Path]] = []
    monkeypatch.setattr(jobs, "launch_worker", lambda workspace, log_file: calls.append((workspace, log_file)))
    return calls


def test_ensure_worker_starts_one_worker_for_queued_jobs(ws, admin, launches):
    assert jobs.ensure_worker(ws) is False and launches == []  # nothing queued
    jobs.submit(ws.conn, admin, CONFIG)
    assert jobs.ensure_worker(ws) is True
    assert launches == [(ws.settings.workspace, ws.layout.logs / "worker.log")]
    jobs.submit(ws.conn, admin, CONFIG)
    assert jobs.ensure_worker(ws) is False  # the one just launched has not announced itself yet
    assert len(launches) == 1


def test_ensure_worker_across_connections_launches_once(ws, admin, launches):
    jobs.submit(ws.conn, admin, CONFIG)
    from core.workspace import open_workspace

    others = [open_workspace(ws.settings.workspace) for _ in range(3)]
    try:
        results = [jobs.ensure_worker(other) for other in others]
    finally:
        for other in others:
            other.close()
    assert results.count(True) == 1 and len(launches) == 1


def test_ensure_worker_after_the_grace_period(ws, admin, launches):
    jobs.submit(ws.conn, admin, CONFIG)
    assert jobs.ensure_worker(ws)
    with db.transaction(ws.conn):
        ws.conn.execute(
            "UPDATE settings SET value = ? WHERE key = 'worker_launched_at'", (jobs._ago(jobs.LAUNCH_GRACE_S + 1),)
        )
    assert jobs.ensure_worker(ws) is True and len(launches) == 2  # the first never came up


def test_ensure_worker_not_while_one_is_alive(ws, admin, launches):
    jobs.submit(ws.conn, admin, CONFIG)
    jobs.worker_beat(ws.conn)  # this process counts as a live worker
    assert jobs.ensure_worker(ws) is False and launches == []


def test_ensure_worker_reconciles_first(ws, admin, launches, dead_pid):
    job_id = jobs.submit(ws.conn, admin, CONFIG)
    fake_running(ws, job_id, dead_pid, 60)
    assert jobs.ensure_worker(ws) is False  # nothing queued: the dead job is interrupted, not restarted
    assert status(ws, job_id) == "interrupted" and launches == []


def test_sweep_queues_one_job_per_pair(ws, admin):
    ids = jobs.submit_sweep(ws.conn, admin, CONFIG, [8, 16], [1e-3, 1e-2, 1e-1])
    got = [jobs.get_job(ws.conn, i) for i in ids]
    assert [(j.config.batch_size, j.config.lr) for j in got] == [(b, lr) for b in (8, 16) for lr in (1e-3, 1e-2, 1e-1)]
    assert len({j.sweep for j in got}) == 1 and got[0].sweep.startswith("sweep-")
    with pytest.raises(ValidationError, match="at least one"):
        jobs.submit_sweep(ws.conn, admin, CONFIG, [], [1e-3])
    with pytest.raises(ValidationError, match="too large"):
        jobs.submit_sweep(ws.conn, admin, CONFIG, list(range(1, 8)), [0.1] * 6)


def test_log_tail(tmp_path):
    path = tmp_path / "job.log"
    assert jobs.log_tail(path) == ""
    path.write_text("\n".join(f"line {i}" for i in range(100_000)))
    assert jobs.log_tail(path, lines=3) == "line 99997\nline 99998\nline 99999"


def test_refusals_carry_text_keys_the_page_translates(ws, admin):
    from core import i18n

    done = jobs.submit(ws.conn, admin, CONFIG)
    jobs.claim(ws.conn)
    jobs.finish(ws.conn, done, "done")
    queued = jobs.submit(ws.conn, admin, CONFIG)
    refusals = [
        (lambda: jobs.cancel(ws.conn, admin, done), "train.error.not_cancellable"),
        (lambda: jobs.resume(ws.conn, admin, done), "train.error.resume_done"),
        (lambda: jobs.resume(ws.conn, admin, queued), "train.error.resume_active"),
        (lambda: jobs.get_job(ws.conn, 999), "train.error.no_job"),
        (lambda: jobs.submit_sweep(ws.conn, admin, CONFIG, [], [1e-3]), "train.error.sweep_empty"),
        (lambda: jobs.submit_sweep(ws.conn, admin, CONFIG, [8] * 7, [1e-3] * 6), "train.error.sweep_large"),
    ]
    for call, key in refusals:
        with pytest.raises((ValidationError, NotFoundError)) as caught:
            call()
        assert caught.value.key == key
        for lang in ("en", "ko"):  # the values fill every placeholder of the text in both languages
            assert "{" not in i18n.t(key, lang, **caught.value.detail), (key, lang)


def test_a_resumed_job_says_so(ws, admin, dead_pid):
    job_id = jobs.submit(ws.conn, admin, CONFIG)
    assert not jobs.get_job(ws.conn, job_id).resumed
    jobs.claim(ws.conn)
    assert not jobs.get_job(ws.conn, job_id).resumed
    fake_running(ws, job_id, dead_pid, 60)
    assert jobs.reconcile(ws.conn) == [job_id]
    assert jobs.get_job(ws.conn, job_id).progress["error_key"] == "train.error.worker_gone"
    jobs.resume(ws.conn, admin, job_id)
    assert jobs.get_job(ws.conn, job_id).resumed  # queued again, before any worker took it
    assert jobs.claim(ws.conn).resumed  # attempt 2


def test_finish_keeps_the_cause_as_text_keys(ws, admin):
    job_id = jobs.submit(ws.conn, admin, CONFIG)
    jobs.claim(ws.conn)
    jobs.heartbeat(ws.conn, job_id, {"phase": "train", "epoch": 2, "resumed_from": 1})
    jobs.finish(
        ws.conn,
        job_id,
        "cancelled",
        "stopped during epoch 2, step 3",
        None,
        {"error_key": "train.error.stopped_epoch", "error_detail": {"epoch": 2, "step": 3}},
    )
    job = jobs.get_job(ws.conn, job_id)
    assert job.error == "stopped during epoch 2, step 3"  # the CLI's English stays
    assert job.progress == {
        "phase": "train",
        "epoch": 2,
        "resumed_from": 1,
        "error_key": "train.error.stopped_epoch",
        "error_detail": {"epoch": 2, "step": 3},
    }
