"""Helpers shared by the training-tier tests (this module holds no tests): demo photos, tiny runs, the CLI.

The demo photos are rendered once per test session; each workspace imports its own copy.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from core import auth, ingest, jobs, runs, sources
from core.config import TrainConfig
from core.workspace import Workspace
from tests.conftest import ROOT

ADMIN = auth.Actor("alice", "admin")
TRAINER = auth.Actor("tim", "trainer")


@functools.cache
def demo_uploads(n: int = 60, seed: int = 0) -> tuple[tuple[str, bytes], ...]:
    """(name with a label folder, JPEG bytes) for n demo bolt photos, rendered once per session."""
    from core import demo

    return tuple((f"demo/{p.label}/demo_{seed}_{i:05d}.jpg", p.jpeg) for i, p in enumerate(demo.demo_set(n, seed)))


def add_demo(ws: Workspace, n: int = 60, split: str | None = None, start: int = 0) -> ingest.ImportReport:
    """Import demo photos start..start+n (labels in turn, by folder); split=None lets the workspace assign one."""
    uploads = demo_uploads(max(60, start + n))[start : start + n]
    report = ingest.import_sources(ws, ADMIN, sources.iter_uploads(uploads, ws.settings), None, split, "demo", "import")
    assert report.to_json()["imported"] == n
    return report


def tiny_config(**values: object) -> TrainConfig:
    """tiny_cnn at 32 px: an epoch over 60 demo photos takes well under a second on a CPU."""
    return TrainConfig(
        **{
            "arch": "tiny_cnn",
            "epochs": 2,
            "batch_size": 8,
            "image_size": 32,
            "pretrained": False,
            "warmup_epochs": 0,
            **values,
        }
    )


def new_run(ws: Workspace, config: TrainConfig) -> runs.Run:
    """A queued job and its frozen snapshot, as the worker makes them before training."""
    job_id = jobs.submit(ws.conn, ADMIN, config)
    return runs.create_run(ws.conn, job_id, config, {"pretrained": config.pretrained}, {})


@contextmanager
def sigterm_kept():
    """worker.run_job installs a SIGTERM handler; keep pytest's own in place after the test."""
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_job_here(ws: Workspace, job_id: int) -> str:
    """Claim one job and run it in this process, as `train --wait` does when no worker is alive."""
    from core.ml import worker

    job = jobs.claim(ws.conn, job_id)
    assert job is not None, f"job {job_id} was not queued"
    with sigterm_kept():
        return worker.run_job(ws, job)


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOLTSCOPE_")}
    env["BOLTSCOPE_USER"] = "cli-tester"
    return env


def run_cli(workspace: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(workspace), *args],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli_json(workspace: Path, *args: str, expect_rc: int = 0, timeout: float = 180) -> object:
    """Run the CLI; stdout must be exactly one JSON document on one line."""
    proc = run_cli(workspace, *args, timeout=timeout)
    assert proc.returncode == expect_rc, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0])


def promoted_tiny_run(ws: Workspace) -> runs.Run:
    """45 demo photos, a 2-epoch tiny_cnn run, promoted to production: what diagnosis and export need."""
    from core import evaluation

    add_demo(ws, 45)
    job_id = jobs.submit(ws.conn, ADMIN, tiny_config(epochs=2))
    assert run_job_here(ws, job_id) == "done"
    run = runs.run_for_job(ws.conn, job_id)
    evaluation.promote(ws.conn, ADMIN, run.id)
    return run
