"""Shared fixtures: a temp workspace through the environment, actors, tiny images made with PIL; and the guard
that keeps `make test-fast` fast."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core import auth  # noqa: E402
from core.workspace import open_workspace  # noqa: E402

SHARED_DATASETS = ROOT.parent / "shared" / "datasets"
# In a run that leaves slow tests out, an unmarked test (no slow, e2e or gpu mark) fails when its setup and call
# take longer than this: the fast loop stays fast because a slow test must say so. 0 turns the guard off.
LIMIT_S = float(os.environ.get("BOLTSCOPE_TEST_LIMIT_S", "15"))
LONG_MARKS = ("slow", "e2e", "gpu")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "setup":
        item.stash[_SETUP_S] = call.duration
    elif (
        call.when == "call"
        and report.passed
        and LIMIT_S > 0
        and _fast_run(item.config)
        and not any(item.get_closest_marker(mark) for mark in LONG_MARKS)
    ):
        took = item.stash.get(_SETUP_S, 0.0) + call.duration
        if took > LIMIT_S:
            report.outcome = "failed"
            report.longrepr = (
                f"{item.nodeid} took {took:.1f} s (setup and call), over the {LIMIT_S:g} s a test "
                f"without a slow, e2e or gpu mark may take: mark it @pytest.mark.slow or make it faster "
                f"(BOLTSCOPE_TEST_LIMIT_S)"
            )
    return report


_SETUP_S = pytest.StashKey[float]()


def _fast_run(config: pytest.Config) -> bool:
    """The guard holds in the fast loop (`-m "not slow …"`: make test-fast, the stop hook), where a slow test
    would hide; a full run (make test, CI) runs slow tests anyway and a busy machine there is no fault of a test."""
    return "not slow" in (config.option.markexpr or "")


@pytest.fixture
def ws_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "ws"
    monkeypatch.setenv("BOLTSCOPE_WORKSPACE", str(path))
    return path


@pytest.fixture
def ws(ws_path):
    workspace = open_workspace(ws_path)
    yield workspace
    workspace.close()


@pytest.fixture
def admin() -> auth.Actor:
    return auth.Actor("alice", "admin")


@pytest.fixture
def labeler() -> auth.Actor:
    return auth.Actor("lee", "labeler")


@pytest.fixture
def viewer() -> auth.Actor:
    return auth.Actor("vic", "viewer")


def make_image(
    seed: int = 0, size: tuple[int, int] = (64, 48), fmt: str = "JPEG", mode: str = "RGB", **save_args
) -> bytes:
    """A small noisy picture whose content (and so hash) depends on the seed."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    img = Image.fromarray(arr, "RGB")
    if mode != "RGB":
        img = img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, fmt, **save_args)
    return buf.getvalue()


@pytest.fixture
def image_bytes():
    return make_image


@pytest.fixture
def screws_dir() -> Path:
    path = SHARED_DATASETS / "screws"
    if not (path / "train").is_dir():
        pytest.skip("../shared/datasets/screws is not present")
    return path
