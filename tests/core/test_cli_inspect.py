"""`inspect PHOTO... --station S [--asset A] [--json]`: one JSON line per photo, as the issue gives it."""

from __future__ import annotations

import json
import sys
import types

import pytest

from core import audit, auth, cli, inspection_report, inspections, stations
from core.workspace import open_workspace
from tests.core.inspection_helpers import photo, result, run_row

ISSUE_KEYS = {"inspection_id", "photo", "station", "asset", "verdict", "alignment", "positions"}
POSITION_KEYS = {"name", "label", "defect", "probs", "box"}


def run(capsys, ws_dir, *args: str) -> tuple[int, list[str], str]:
    code = cli.main(["--workspace", str(ws_dir), *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


@pytest.fixture
def fake_judge(monkeypatch):
    """core.ml.inspect.inspect_files without torch: every position normal, recorded through core; the calls kept."""
    calls = []

    def inspect_files(ws, actor, station_name, photos, asset="", cams=False):
        calls.append((actor.name, station_name, [p.name for p in photos], asset))
        st, run_id = stations.get_station(ws.conn, station_name), run_row(ws)
        for path in photos:
            data = path.read_bytes()
            yield inspections.record_inspection(ws, actor, result(st, data, run_id, asset=asset), data), None

    fake = types.ModuleType("core.ml.inspect")
    fake.inspect_files = inspect_files
    import core.ml

    monkeypatch.setitem(sys.modules, "core.ml.inspect", fake)
    monkeypatch.setattr(core.ml, "inspect", fake, raising=False)
    return calls


def one_station(tmp_path):
    """A workspace with station wheel-1 (one position); its folder."""
    ws_dir = tmp_path / "ws"
    ws = open_workspace(ws_dir)
    try:
        stations.add_station(ws, auth.local_actor(), "wheel-1", photo(0), [stations.Position("P1", (10, 10, 40, 40))])
    finally:
        ws.close()
    return ws_dir


def test_inspect_prints_one_json_line_per_photo(tmp_path, capsys, monkeypatch, fake_judge):
    monkeypatch.setenv("BOLTSCOPE_USER", "inspector-1")
    ws_dir = one_station(tmp_path)
    for seed in (1, 2):
        (tmp_path / f"w{seed}.png").write_bytes(photo(seed))
    code, lines, err = run(
        capsys,
        ws_dir,
        "inspect",
        str(tmp_path / "w1.png"),
        str(tmp_path / "w2.png"),
        "--station",
        "wheel-1",
        "--asset",
        "OHT-7",
        "--json",
    )
    assert code == 0, err
    assert fake_judge == [("inspector-1", "wheel-1", ["w1.png", "w2.png"], "OHT-7")]
    found = [json.loads(line) for line in lines]
    assert len(found) == 2 and all(ISSUE_KEYS <= set(f) for f in found)
    assert [(f["station"], f["asset"], f["verdict"], f["inspector"]) for f in found] == [
        ("wheel-1", "OHT-7", "pass", "inspector-1")
    ] * 2
    assert set(found[0]["positions"][0]) >= POSITION_KEYS and found[0]["positions"][0]["box"] == [10, 10, 40, 40]


def test_inspect_needs_a_station_and_photos(tmp_path, capsys):
    for args in (["inspect", "x.jpg"], ["inspect", "--station", "s"]):
        with pytest.raises(SystemExit) as caught:
            cli.main(["--workspace", str(tmp_path / "ws"), *args])
        assert caught.value.code == 2


def test_a_report_folder_that_cannot_be_made_is_refused_before_any_photo(tmp_path, capsys, fake_judge):
    ws_dir = one_station(tmp_path)
    (tmp_path / "w1.png").write_bytes(photo(1))
    (tmp_path / "a-file").write_text("not a folder")
    photo_path, folder = str(tmp_path / "w1.png"), str(tmp_path / "a-file")
    code, lines, err = run(capsys, ws_dir, "inspect", photo_path, "--station", "wheel-1", "--report", folder)
    assert (code, lines, fake_judge) == (2, [], []) and "cannot make the report folder" in err
    ws = open_workspace(ws_dir)
    try:
        assert inspections.list_inspections(ws.conn) == []
    finally:
        ws.close()


@pytest.mark.slow  # trains a tiny model (about 10 s on two cores)
def test_inspect_end_to_end_with_a_tiny_model(tmp_path, capsys, monkeypatch):
    from core import demo_wheel
    from tests.core.train_helpers import promoted_tiny_run

    monkeypatch.setenv("BOLTSCOPE_USER", "inspector-1")
    ws_dir = tmp_path / "ws"
    reference = demo_wheel.render_wheel(0, size=(612, 512))
    moved = demo_wheel.render_wheel(0, angle=6.0, shift=(8.0, -5.0), size=(612, 512))
    (tmp_path / "ref.jpg").write_bytes(reference.jpeg)
    (tmp_path / "moved.jpg").write_bytes(moved.jpeg)
    boxes = [{"name": p.name, "box": list(p.box)} for p in reference.positions]
    (tmp_path / "boxes.json").write_text(json.dumps(boxes))
    ws = open_workspace(ws_dir)
    try:
        promoted_tiny_run(ws)
    finally:
        ws.close()
    code, _, err = run(
        capsys,
        ws_dir,
        "station",
        "add",
        "wheel",
        "--reference",
        str(tmp_path / "ref.jpg"),
        "--boxes",
        str(tmp_path / "boxes.json"),
    )
    assert code == 0, err
    code, lines, err = run(
        capsys, ws_dir, "inspect", str(tmp_path / "moved.jpg"), "--station", "wheel", "--asset", "OHT-7/wheel-2"
    )
    assert code == 0, err
    (line,) = lines
    found = json.loads(line)
    assert ISSUE_KEYS <= set(found) and found["photo"] == "moved.jpg" and found["asset"] == "OHT-7/wheel-2"
    assert found["verdict"] in ("pass", "defect", "check") and len(found["positions"]) == 12
    assert all(POSITION_KEYS <= set(p) for p in found["positions"])
    ws = open_workspace(ws_dir)
    try:
        assert inspections.inspection_json(inspections.get_inspection(ws.conn, found["inspection_id"])) == found
        (entry,) = audit.query(ws.conn, actions=("inspect",))
        assert entry.target == str(found["inspection_id"]) and entry.user == "inspector-1"
    finally:
        ws.close()
    code, lines, err = run(
        capsys, ws_dir, "inspect", str(tmp_path / "moved.jpg"), "--station", "wheel", "--report",
        str(tmp_path / "reports" / "today"), "--lang", "ko",
    )  # fmt: skip
    assert code == 0, err
    (line,) = lines
    found = json.loads(line)
    pdf = tmp_path / "reports" / "today" / f"inspection-{found['inspection_id']:08d}.pdf"
    assert found["report"] == str(pdf) and pdf.read_bytes().startswith(b"%PDF")
    ws = open_workspace(ws_dir)
    try:
        kept = sorted(p.name for p in inspection_report.views_dir(ws, found["inspection_id"]).iterdir())
        assert len(kept) == 24 and "11-heatmap.jpg" in kept  # each position's crop and heatmap, for the report
        (entry,) = audit.query(ws.conn, actions=("report",))
        assert entry.target == f"inspection {found['inspection_id']}" and entry.user == "inspector-1"
    finally:
        ws.close()
    code, lines, err = run(capsys, ws_dir, "inspect", str(tmp_path / "boxes.json"), "--station", "wheel")
    assert (code, lines) == (2, []) and "not an image" in err
    code, lines, err = run(capsys, ws_dir, "inspect", str(tmp_path / "moved.jpg"), "--station", "nope")
    assert (code, lines) == (2, []) and "station 'nope' does not exist" in err
