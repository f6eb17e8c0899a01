"""A real worker process: cancel stops it within seconds and keeps the checkpoint; resume continues from it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from core import auth, config, jobs, runs
from core.ml import checkpoint
from core.workspace import open_workspace
from tests.conftest import ROOT


def cli(ws_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(ws_path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def wait_for(predicate, timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_cancel_stops_a_running_job_keeps_checkpoint_and_resume_continues(ws_path):
    assert cli(ws_path, "demo", "--n", "60").returncode == 0
    ws = open_workspace(ws_path)
    cfg = config.TrainConfig(arch="tiny_cnn", epochs=400, batch_size=4, image_size=96, warmup_epochs=0)
    job_id = jobs.submit(ws.conn, auth.local_actor(), cfg)
    worker = subprocess.Popen(
        [sys.executable, "-m", "core", "--workspace", str(ws_path), "worker", "--once"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        run = wait_for(lambda: runs.run_for_job(ws.conn, job_id), 60)
        wait_for(lambda: len(runs.epochs(ws.conn, run.id)) >= 2, 120)
        asked = time.monotonic()
        assert jobs.cancel(ws.conn, auth.local_actor(), job_id) == "running"
        wait_for(lambda: jobs.get_job(ws.conn, job_id).status == "cancelled", 10)
        assert time.monotonic() - asked <= 10
        worker.wait(timeout=30)  # --once: the worker ends after its job
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    done_epochs = len(runs.epochs(ws.conn, run.id))
    assert 2 <= done_epochs < cfg.epochs
    saved = checkpoint.load(ws.layout.run_dir(run.id) / checkpoint.LAST)
    assert saved["epoch"] == done_epochs  # the checkpoint of the last finished epoch is kept

    resumed = cli(ws_path, "resume", str(job_id), "--no-start")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == {"job_id": job_id}
    assert jobs.get_job(ws.conn, job_id).status == "queued"
    # let it run one more epoch past the checkpoint, then cancel again: it continued, it did not restart
    worker = subprocess.Popen(
        [sys.executable, "-m", "core", "--workspace", str(ws_path), "worker", "--once"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(runs.epochs(ws.conn, run.id)) > done_epochs, 120)
        jobs.cancel(ws.conn, auth.local_actor(), job_id)
        wait_for(lambda: jobs.get_job(ws.conn, job_id).status == "cancelled", 10)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    epochs = [e.epoch for e in runs.epochs(ws.conn, run.id)]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) > done_epochs
    job = jobs.get_job(ws.conn, job_id)
    assert job.attempts == 2 and job.status == "cancelled"
    # the page and the log say it was resumed, and from which epoch; the cause is kept as a text key
    assert job.resumed and job.progress["resumed_from"] == done_epochs
    assert job.progress["error_key"] == "train.error.stopped_epoch" and job.progress["error_detail"]["epoch"] > 0
    assert f"resumed from epoch {done_epochs}" in ws.layout.job_log(job_id).read_text()
    ws.close()


def test_out_of_memory_is_explained_with_a_batch_size_to_try():
    import torch

    from core.ml import runner

    hooks = runner.DbHooks.__new__(runner.DbHooks)  # outcome_of only reads .sigterm
    hooks.sigterm = False
    status, cause, hint = runner.outcome_of(torch.cuda.OutOfMemoryError("CUDA out of memory"), hooks, 64)
    assert (status, cause) == ("failed", "the GPU ran out of memory")
    assert "batch size 32" in hint
