"""How the server starts: serve.py (the ASGI entry point `make run` and `make demo` use) sets the upload limit
from BOLTSCOPE_MAX_FILE_MB, turns Streamlit's legacy pages/ discovery off and adds the session-cookie route;
the Makefile starts it that way, installs requirements only when they changed, and adds accounts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from core import config
from tests.conftest import ROOT

PROBE = """
import json, serve
from streamlit import config
from streamlit.runtime.pages_manager import PagesManager
print(json.dumps({"upload_mb": config.get_option("server.maxUploadSize"),
                  "legacy_pages": PagesManager.uses_pages_directory,
                  "routes": [[r.path, sorted(getattr(r, "methods", None) or [])] for r in serve.app._user_routes]}))
"""


def probe(**env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, **env}
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_serve_sets_the_upload_limit_from_the_configured_file_limit_and_turns_legacy_pages_off():
    assert probe(BOLTSCOPE_MAX_FILE_MB="7") == {
        "upload_mb": 7,
        "legacy_pages": False,
        "routes": [["/auth/session", ["DELETE", "POST"]], ["/api", []]],
    }


def test_without_serve_py_the_upload_limit_is_still_cores_default():
    with open(ROOT / ".streamlit" / "config.toml", "rb") as handle:
        server = tomllib.load(handle)["server"]
    assert server["maxUploadSize"] == config.Settings(workspace=ROOT).max_file_mb == 100


@pytest.fixture
def fake_venv(tmp_path):
    """A venv whose pip, python and streamlit only write down how they were called."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("pip", "python", "streamlit"):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/calls"\n')
        (bin_dir / tool).chmod(0o755)
    return tmp_path


def make(venv_root, *args: str) -> list[str]:
    calls = venv_root / "calls"
    calls.unlink(missing_ok=True)
    subprocess.run(
        ["make", "-s", f"VENV={venv_root / 'venv'}", "HOST=localhost", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return calls.read_text().splitlines() if calls.exists() else []


def test_make_run_starts_serve_py_and_runs_pip_only_when_the_requirements_change(fake_venv):
    first = make(fake_venv, "run")
    assert first[0] == "pip install -q -r requirements.txt"
    assert first[1].startswith("streamlit run serve.py ") and first[1].endswith("-- --workspace workspace")
    again = make(fake_venv, "run")
    assert [c for c in again if c.startswith("pip")] == [] and again[0].startswith("streamlit run serve.py")
    stamp = fake_venv / "venv" / ".requirements.stamp"
    os.utime(stamp, (0, 0))  # requirements.txt is now newer than the last install
    assert make(fake_venv, "run")[0] == "pip install -q -r requirements.txt"


def test_make_user_adds_an_account_as_the_readme_says(fake_venv):
    calls = make(fake_venv, "user", "NAME=kim", "ROLE=admin")
    assert calls[-1] == "python -m core --workspace workspace user add kim --role admin"
