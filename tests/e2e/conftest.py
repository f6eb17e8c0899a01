"""A real server started as `make run` starts it (`streamlit run serve.py`) on a free localhost port, and
Debian's Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_server(tmp_path):
    """The dashboard in single-user mode on an empty workspace; yields (url, workspace path)."""
    yield from serve(tmp_path, {"BOLTSCOPE_NO_AUTH": "1"})


@pytest.fixture
def auth_server(tmp_path):
    """The dashboard with sign-in required, as on the plant LAN; yields (url, workspace path)."""
    yield from serve(tmp_path, {})


def serve(
    tmp_path,
    extra_env: dict[str, str],
    address: list[str] | None = None,
    port: int | None = None,
    args: tuple[str, ...] = (),
):
    """address: the Streamlit options that say where it listens (default: loopback only); port: a given one
    (to restart a server where the browser expects it), else a free one; args: the app's own (`--no-auth`)."""
    port = port or free_port()
    workspace = tmp_path / "ws"
    env = {
        **os.environ,
        "BOLTSCOPE_WORKSPACE": str(workspace),
        "BOLTSCOPE_USER": "e2e-tester",
        "BOLTSCOPE_WORKER_IDLE_S": "5",
    }
    env.pop("BOLTSCOPE_NO_AUTH", None)
    env.update(extra_env)
    log = open(tmp_path / "streamlit.log", "a")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "serve.py"),
            "--server.port",
            str(port),
            *(address if address is not None else ["--server.address", "127.0.0.1"]),
            "--server.headless",
            "true",
            *(["--", *args] if args else []),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"streamlit did not start; log: {(tmp_path / 'streamlit.log').read_text()[-2000:]}")
    yield url, workspace
    stop_workers(workspace)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def stop_workers(workspace) -> None:
    """Workers the app started are detached on purpose (they outlive Streamlit): end them with the test."""
    db_path = workspace / "boltscope.db"
    if not db_path.exists():
        return
    with sqlite3.connect(db_path) as conn:
        pids = [row[0] for row in conn.execute("SELECT pid FROM workers")]
        pids += [row[0] for row in conn.execute("SELECT worker_pid FROM jobs WHERE status = 'running'")]
    for pid in set(pids) - {os.getpid()}:  # never the test run itself, should it have trained a job in-process
        with contextlib.suppress(ProcessLookupError, PermissionError, TypeError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def page():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (make browser)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        yield tab
        context.close()
        browser.close()
