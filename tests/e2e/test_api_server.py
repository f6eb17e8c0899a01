"""The API through the real server (`streamlit run serve.py`, as `make run` starts it): OpenAPI at /api/docs,
a diagnosis over HTTP with a token an admin made, refused once the token is revoked; and under a base path."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests
from playwright.sync_api import expect

from core import auth, jobs, tokens
from core.workspace import open_workspace
from tests.conftest import ROOT, make_image
from tests.e2e.conftest import free_port, serve

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
ADMIN = auth.Actor("alice", "admin")


def test_diagnose_over_http_with_a_token_and_the_docs(tmp_path):
    from tests.core.train_helpers import promoted_tiny_run

    for url, workspace in serve(tmp_path, {}):
        ws = open_workspace(workspace)
        try:
            run = promoted_tiny_run(ws)
            jobs.worker_gone(ws.conn)  # trained here: serve()'s teardown SIGKILLs the workers it finds listed
            _, secret = tokens.add_token(ws.conn, ADMIN, "camera-1", "viewer")
            docs = requests.get(url + "/api/docs", timeout=30)
            assert docs.status_code == 200 and "/api/openapi.json" in docs.text
            schema = requests.get(url + "/api/openapi.json", timeout=30).json()
            assert "/v1/diagnose" in schema["paths"]
            crop = make_image(5, size=(80, 80))
            headers = {"Authorization": f"Bearer {secret}"}
            diagnose = url + "/api/v1/diagnose"
            answer = requests.post(diagnose, files={"file": ("b.jpg", crop)}, headers=headers, timeout=120)
            assert answer.status_code == 200, answer.text
            assert answer.json()["run_id"] == run.id and set(answer.json()["probs"]) == set(run.class_names)
            bad = requests.post(diagnose, files={"file": ("b.jpg", b"GIF")}, headers=headers, timeout=60)
            assert bad.status_code == 422 and bad.json()["error"] == "reject.not_image"
            tokens.revoke_token(ws.conn, ADMIN, "camera-1")
            gone = requests.post(diagnose, files={"file": ("b.jpg", crop)}, headers=headers, timeout=60)
            assert gone.status_code == 401 and gone.json()["error"] == "api.token_refused"
            assert requests.get(url + "/_stcore/health", timeout=30).status_code == 200  # Streamlit still serves
        finally:
            ws.close()


def test_the_api_follows_the_base_path(tmp_path):
    """server.baseUrlPath=plant: the API is at /plant/api (as the dashboard is at /plant)."""
    port = free_port()
    env = {**os.environ, "BOLTSCOPE_WORKSPACE": str(tmp_path / "ws")}
    env.pop("BOLTSCOPE_NO_AUTH", None)
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true", "--server.baseUrlPath", "plant"]
    with open(tmp_path / "streamlit.log", "w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/plant"
    try:
        deadline = time.monotonic() + 90
        while True:  # waits on the port answering, as conftest.serve does
            try:
                if requests.get(url + "/_stcore/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or busy starting
                pass
            assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "streamlit.log").read_text()[-2000:]
            time.sleep(0.3)
        docs = requests.get(url + "/api/docs", timeout=30)
        assert docs.status_code == 200 and "/plant/api/openapi.json" in docs.text
        assert requests.get(url + "/api/openapi.json", timeout=30).status_code == 200
        refused = requests.get(url + "/api/v1/inspections", timeout=30)
        assert refused.status_code == 401 and refused.json()["error"] == "api.token_missing"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_docs_page_renders_in_chromium_without_a_cdn(auth_server, page, tmp_path):
    """The machine reaches no CDN (nor does a plant LAN): Swagger UI still draws every endpoint, and nothing the
    page asked for left the server."""
    url, _ = auth_server
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith(url) else None)
    page.goto(url + "/api/docs")
    page.locator(".opblock-summary-path", has_text="/v1/diagnose").wait_for(timeout=60_000)
    expect(page.locator(".opblock")).to_have_count(4)  # diagnose, inspections (post, get), the report
    page.screenshot(path=str(tmp_path / "api-docs.png"), full_page=True)
    assert outside == []
