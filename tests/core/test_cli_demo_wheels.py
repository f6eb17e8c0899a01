"""`demo-wheels`: the reference wheel, its station (made once) and wheel photos with their true labels."""

from __future__ import annotations

import pytest

from core import stations
from core.workspace import open_workspace
from tests.core.train_helpers import cli_json, run_cli

pytestmark = pytest.mark.slow  # two 2448x2048 renders


def test_demo_wheels_make_the_station_once_and_the_photos(tmp_path):
    workspace, out = tmp_path / "ws", tmp_path / "wheels"
    first = cli_json(workspace, "demo-wheels", str(out), "--n", "1")
    assert first["created"] is True and first["station"] == "demo-wheel"
    assert sorted(p.name for p in out.iterdir()) == ["reference.jpg", "wheel-1.jpg"]
    labels = first["photos"][0]["labels"]
    assert list(labels) == [f"P{n}" for n in range(1, 13)] and set(labels.values()) == {"normal", "broken", "missing"}
    ws = open_workspace(workspace)
    station = stations.get_station(ws.conn, "demo-wheel")
    assert [p.name for p in station.positions] == list(labels) and station.reference_size == (2448, 2048)
    ws.close()
    again = cli_json(workspace, "demo-wheels", str(out), "--n", "1")
    assert again["created"] is False
    refused = run_cli(workspace, "demo-wheels", str(out), "--n", "0")
    assert refused.returncode == 2 and "--n" in refused.stderr
