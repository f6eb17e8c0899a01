"""`station add|update|list|show` and `inspections`: one JSON document per line, exit 2 on bad input."""

from __future__ import annotations

import csv
import io
import json

import pytest

from core import cli, inspections
from core.workspace import open_workspace
from tests.core.inspection_helpers import photo, result, run_row

BOXES_JSON = '[{"name": "P1", "box": [10, 10, 40, 40]}, {"name": "P2", "box": [60, 20, 100, 70]}]'


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setenv("BOLTSCOPE_USER", "cli-tester")
    (tmp_path / "ref.png").write_bytes(photo(0))
    (tmp_path / "boxes.json").write_text(BOXES_JSON)
    return tmp_path


def run(capsys, ws_dir, *args: str) -> tuple[int, list[str], str]:
    code = cli.main(["--workspace", str(ws_dir), *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def ok(capsys, ws_dir, *args: str) -> object:
    code, lines, err = run(capsys, ws_dir, *args)
    assert code == 0, err
    assert len(lines) == 1, lines  # one JSON document on one line
    return json.loads(lines[0])


def add_args(files, name="wheel-1", boxes="boxes.json", ref="ref.png") -> list[str]:
    return ["station", "add", name, "--reference", str(files / ref), "--boxes", str(files / boxes)]


def test_a_station_is_added_listed_shown_and_versioned(files, capsys):
    ws_dir = files / "ws"
    added = ok(capsys, ws_dir, *add_args(files), "--margin", "0.1")
    assert (added["name"], added["version"], added["margin"], added["run_id"]) == ("wheel-1", 1, 0.1, None)
    assert added["positions"] == json.loads(BOXES_JSON) and added["reference_size"] == [160, 120]
    assert added["created_by"] == "cli-tester"
    assert ok(capsys, ws_dir, "station", "list", "--json") == [added]
    assert ok(capsys, ws_dir, "station", "show", "wheel-1", "--json") == added
    changed = ok(capsys, ws_dir, "station", "update", "wheel-1", "--margin", "0.2")
    assert (changed["version"], changed["margin"]) == (2, 0.2)
    assert ok(capsys, ws_dir, "station", "show", "wheel-1", "--version", "1") == added
    assert [s["version"] for s in ok(capsys, ws_dir, "station", "show", "wheel-1", "--all")] == [1, 2]
    assert ok(capsys, ws_dir, "station", "list", "--json") == [changed]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not JSON", "not JSON"),
        ("box outside", "outside the 160×120 reference photo"),
        ("not an image", "not an image"),
        ("no boxes file", "cannot read the positions file"),
        ("bad name", "station name 'wheel 1' is not valid"),
        ("margin", "margin 2.0 must be a number from 0 to 1"),
        ("unknown run", "run 42 does not exist"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message_and_stores_nothing(files, capsys, case, message):
    (files / "bad.json").write_text("[{" if case == "not JSON" else '[{"name": "P1", "box": [0, 0, 161, 10]}]')
    (files / "bad.png").write_bytes(b"this is text")
    args = {
        "not JSON": add_args(files, boxes="bad.json"),
        "box outside": add_args(files, boxes="bad.json"),
        "not an image": add_args(files, ref="bad.png"),
        "no boxes file": add_args(files, boxes="missing.json"),
        "bad name": add_args(files, name="wheel 1"),
        "margin": [*add_args(files), "--margin", "2"],
        "unknown run": [*add_args(files), "--run", "42"],
    }[case]
    code, lines, err = run(capsys, files / "ws", *args)
    assert (code, lines) == (2, [])
    assert err.startswith("error: ") and message in err
    assert ok(capsys, files / "ws", "station", "list", "--json") == []
    assert not (files / "ws" / "records").exists() or not any((files / "ws" / "records").rglob("*.*"))


def test_unknown_stations_and_empty_updates_exit_2(files, capsys):
    ws_dir = files / "ws"
    assert run(capsys, ws_dir, "station", "show", "nope", "--json")[0] == 2
    ok(capsys, ws_dir, *add_args(files))
    code, _, err = run(capsys, ws_dir, "station", "update", "wheel-1")
    assert code == 2 and "changes some of" in err
    with pytest.raises(SystemExit) as caught:  # argparse: not allowed together
        cli.main(["--workspace", str(ws_dir), "station", "update", "wheel-1", "--run", "3", "--production"])
    assert caught.value.code == 2


@pytest.fixture
def history(files, capsys):
    """Three inspections recorded through core: assets A, B, A."""
    ws_dir = files / "ws"
    ok(capsys, ws_dir, *add_args(files))
    ws = open_workspace(ws_dir)
    try:
        from core import auth, stations

        st, run_id = stations.get_station(ws.conn, "wheel-1"), run_row(ws)
        ids = []
        for seed, asset in ((1, "A"), (2, "B"), (3, "A")):
            data = photo(seed)
            labels = {"P2": "broken"} if seed == 3 else None
            ids.append(
                inspections.record_inspection(
                    ws, auth.Actor("vic", "viewer"), result(st, data, run_id, labels, asset), data
                )
            )
    finally:
        ws.close()
    return ws_dir, ids


def test_inspections_prints_the_history_as_json_lines(history, capsys):
    ws_dir, ids = history
    code, lines, err = run(capsys, ws_dir, "inspections", "--asset", "A", "--json")
    assert code == 0, err
    found = [json.loads(line) for line in lines]
    assert [f["inspection_id"] for f in found] == [ids[0], ids[2]]
    assert [f["verdict"] for f in found] == ["pass", "defect"]
    assert found[1]["positions"][1]["label"] == "broken" and found[1]["alignment"]["ok"] is True
    code, lines, _ = run(capsys, ws_dir, "inspections", "--station", "nope", "--json")
    assert (code, lines) == (0, [])


def test_inspections_exports_csv(history, capsys):
    ws_dir, ids = history
    code = cli.main(["--workspace", str(ws_dir), "inspections", "--since", "2020-01-01", "--csv"])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert code == 0 and len(rows) == 6  # two positions each
    assert [int(r["inspection_id"]) for r in rows[::2]] == ids


def test_inspections_needs_a_format_and_a_real_date(history, capsys):
    ws_dir, _ = history
    with pytest.raises(SystemExit) as caught:
        cli.main(["--workspace", str(ws_dir), "inspections"])
    assert caught.value.code == 2
    code, _, err = run(capsys, ws_dir, "inspections", "--since", "last week", "--json")
    assert code == 2 and "is not an ISO date or time" in err
