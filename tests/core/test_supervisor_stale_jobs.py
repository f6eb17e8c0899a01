"""The job supervisor: a worker killed with -9 is marked interrupted within 30 s with no page open and nobody
listing jobs; the server (serve.py) runs the supervisor for its lifetime and stops it at shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from core import db, jobs
from core.workspace import open_workspace
from tests.conftest import ROOT
from tests.core.train_helpers import ADMIN, add_demo, tiny_config


def wait_for(predicate, timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


def status_of(ws_path, job_id: int) -> str:
    """The row as stored, read on a connection of its own (no reconcile, no listing)."""
    ws = open_workspace(ws_path)
    try:
        return ws.conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
    finally:
        ws.close()


@pytest.mark.slow
def test_a_worker_killed_with_kill_9_is_marked_interrupted_by_the_supervisor_within_30_s(ws_path):
    ws = open_workspace(ws_path)
    add_demo(ws)
    job_id = jobs.submit(ws.conn, ADMIN, tiny_config(epochs=1000))
    ws.close()
    worker = subprocess.Popen(
        [sys.executable, "-m", "core", "--workspace", str(ws_path), "worker", "--once"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    thread, stop = None, threading.Event()
    try:
        wait_for(lambda: status_of(ws_path, job_id) == "running", 60)
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and any process it started: no handler runs
        killed = time.monotonic()
        thread = threading.Thread(target=jobs.supervise, args=(ws_path, stop, 0.5), daemon=True)
        thread.start()
        wait_for(lambda: status_of(ws_path, job_id) == "interrupted", 30)
        assert time.monotonic() - killed <= 30
    finally:
        stop.set()
        if thread is not None:
            thread.join(10)
        if worker.poll() is None:
            worker.kill()
        worker.wait()
    assert thread is not None and not thread.is_alive()  # the stop event ends the loop
    ws = open_workspace(ws_path)
    job = jobs.get_job(ws.conn, job_id)
    assert job.progress["error_key"] == "train.error.worker_gone" and job.finished_at
    ws.close()


SERVER_PROBE = """
import asyncio, json, os, threading, time
import serve
from core import db, jobs
from core.workspace import open_workspace

ws = open_workspace(os.environ["BOLTSCOPE_WORKSPACE"])
with db.transaction(ws.conn):  # a running job whose worker (no such pid) stopped beating long ago
    ws.conn.execute("INSERT INTO jobs (kind, status, config, created_by, created_at, heartbeat_at, worker_pid,"
                    " worker_host) VALUES ('train', 'running', ?, 'x', ?, '2000-01-01T00:00:00.000Z', ?, ?)",
                    (json.dumps(jobs.TrainConfig(arch='tiny_cnn').to_dict()), db.now_iso(), 2**22 + 7,
                     __import__('socket').gethostname()))

def status():
    return ws.conn.execute("SELECT status FROM jobs").fetchone()[0]

async def main():
    out = {"lifespan": serve.app._user_lifespan is serve.supervised}
    async with serve.app._user_lifespan(serve.app):
        out["running"] = [t.name for t in threading.enumerate() if t.name == "boltscope-job-supervisor"]
        deadline = time.monotonic() + 30
        while status() != "interrupted" and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        out["status"] = status()
    out["after"] = [t.name for t in threading.enumerate() if t.name == "boltscope-job-supervisor"]
    print(json.dumps(out))

asyncio.run(main())
"""


def test_the_server_runs_the_supervisor_for_its_lifetime(ws_path):
    env = {**os.environ, "BOLTSCOPE_WORKSPACE": str(ws_path)}
    done = subprocess.run(
        [sys.executable, "-c", SERVER_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "lifespan": True,
        "running": ["boltscope-job-supervisor"],
        "status": "interrupted",
        "after": [],
    }


@pytest.mark.slow
def test_a_running_server_with_no_page_open_marks_a_dead_workers_job_interrupted(ws_path):
    """`streamlit run serve.py` as `make run` starts it, no browser: the job of a worker that died is found."""
    ws = open_workspace(ws_path)
    with db.transaction(ws.conn):  # beating a moment ago, from a pid that does not exist on this host
        ws.conn.execute(
            "INSERT INTO jobs (kind, status, config, created_by, created_at, heartbeat_at, worker_pid,"
            " worker_host) VALUES ('train', 'running', ?, 'x', ?, ?, ?, ?)",
            (json.dumps(tiny_config().to_dict()), db.now_iso(), db.now_iso(), 2**22 + 7, socket.gethostname()),
        )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "serve.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env={**os.environ, "BOLTSCOPE_WORKSPACE": str(ws_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: status_of(ws_path, 1) == "interrupted", jobs.STALE_S + 30)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    ws.close()
