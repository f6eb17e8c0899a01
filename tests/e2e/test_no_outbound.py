"""Air-gapped: the app resolves and connects to nothing beyond this machine at start-up and while a photo is
diagnosed with a pretrained backbone (every Python process of the app is watched through sitecustomize)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core import demo
from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
GUARD = ROOT / "tests" / "e2e" / "netguard"


def test_no_connection_leaves_the_machine(tmp_path, monkeypatch, page):
    log = tmp_path / "net.log"
    monkeypatch.setenv("PYTHONPATH", f"{GUARD}:{ROOT}")
    monkeypatch.setenv("BOLTSCOPE_NETLOG", str(log))
    from tests.e2e.conftest import serve

    # started as `make run` starts it: listening on every interface, the users' address given explicitly
    server = serve(tmp_path, {"BOLTSCOPE_NO_AUTH": "1"}, address=["--browser.serverAddress", "localhost"])
    url, workspace = next(server)
    try:
        for args in (["demo", "--n", "30"], ["quick-model", "--wait"], ["promote", "1"]):
            subprocess.run(
                [sys.executable, "-m", "core", "--workspace", str(workspace), *args],
                cwd=ROOT,
                check=True,
                capture_output=True,
                timeout=600,
            )
        photo = tmp_path / "bolt.jpg"
        photo.write_bytes(demo.render_crop(77, "broken").jpeg)
        page.goto(url)
        page.get_by_role("link", name="Diagnose", exact=True).click()
        page.get_by_text("Production model: run #1").wait_for()
        page.locator("[data-testid=stFileUploader] input[type=file]").first.set_input_files([str(photo)])
        page.locator(".st-key-diag_card_0").get_by_text("Grad-CAM, explaining").wait_for(timeout=60_000)
    finally:
        next(server, None)
    assert log.exists() is False or log.read_text() == "", log.read_text()
    # the guard itself notices an outbound lookup (so a silent log above means something)
    probe = "import socket\ntry: socket.getaddrinfo('example.com', 80)\nexcept OSError: pass"
    subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert "example.com" in log.read_text()
