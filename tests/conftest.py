"""Shared fixtures: a temp workspace through the environment, actors, tiny images made with PIL."""

from __future__ import annotations

import io
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


def make_image(seed: int = 0, size: tuple[int, int] = (64, 48), fmt: str = "JPEG", mode: str = "RGB",
               **save_args) -> bytes:
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
