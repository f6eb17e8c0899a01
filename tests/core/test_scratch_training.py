"""A backbone whose weights are not on the machine trains from scratch and says so (resnet50, tiny input)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core import runs
from core.workspace import open_workspace
from tests.conftest import ROOT


@pytest.mark.slow  # over 5 s on a 2-core machine (make test-fast skips it)
def test_resnet50_without_weights_trains_from_scratch(ws_path, tmp_path):
    env = {"TORCH_HOME": str(tmp_path / "no-torch-home"), "BOLTSCOPE_WORKSPACE": str(ws_path)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "core", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=300,
        )

    assert cli("demo", "--n", "24").returncode == 0
    done = cli("train", "--arch", "resnet50", "--epochs", "1", "--image-size", "32", "--batch-size", "8", "--wait")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["status"] == "done" and result["best_epoch"] == 1
    ws = open_workspace(ws_path)
    run = runs.get_run(ws.conn, result["run_id"])
    assert run.weights["used"] is False
    assert run.weights["reason"] == "no weights file found offline"
    assert str(ws.layout.weights / "resnet50-11ad3fa6.pth") in run.weights["expected"]
    log = ws.layout.job_log(run.job_id).read_text()
    assert "pretrained: no weights file found offline" in log
    ws.close()
