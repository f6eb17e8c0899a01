"""Stations: checked before anything is stored, versioned (earlier versions kept), trainer-only to change."""

from __future__ import annotations

import hashlib
import os
import sqlite3

import pytest

from core import audit, auth, doctor, i18n, record_files, stations
from core.errors import NotFoundError, PermissionDenied, ValidationError
from core.stations import Position
from tests.core.inspection_helpers import BOXES, TRAINER, photo, run_row, station


def stored_state(ws) -> tuple[list[tuple], list[str], list[str]]:
    """The station rows, the files under records/ and the station audit entries."""
    rows = [tuple(r) for r in ws.conn.execute("SELECT * FROM stations")]
    files = sorted(str(p) for p in (ws.layout.root / "records").rglob("*") if p.is_file())
    entries = [e.action for e in audit.query(ws.conn, actions=("station.add", "station.update"))]
    return rows, files, entries


def test_a_station_is_stored_with_its_reference_photo_and_audited(ws):
    data = photo(3)
    run_id = run_row(ws)
    made = stations.add_station(ws, TRAINER, "wheel-1", data, BOXES, run_id=run_id, margin=0.25)
    assert (made.name, made.version, made.run_id, made.margin) == ("wheel-1", 1, run_id, 0.25)
    assert made.reference_sha256 == hashlib.sha256(data).hexdigest()
    assert made.reference_size == (160, 120)
    assert made.positions == tuple(BOXES)
    assert made.created_by == "tim"
    path = stations.reference_path(ws, made)
    assert path.read_bytes() == data and path.is_relative_to(ws.layout.root / "records")
    assert not any(ws.layout.originals.rglob("*.*"))  # not a dataset image
    assert ws.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0
    assert stations.get_station(ws.conn, "wheel-1") == made
    assert stations.list_stations(ws.conn) == [made]
    (entry,) = audit.query(ws.conn, actions=("station.add",))
    assert (entry.user, entry.target, entry.details["version"], entry.details["positions"]) == ("tim", "wheel-1", 1, 2)
    assert stations.station_json(made)["positions"] == [
        {"name": "P1", "box": [10, 10, 40, 40]},
        {"name": "P2", "box": [60, 20, 100, 70]},
    ]


def test_a_reference_given_as_a_path_is_read(ws, tmp_path):
    (tmp_path / "ref.jpg").write_bytes(photo(1, fmt="JPEG"))
    made = stations.add_station(ws, TRAINER, "w", tmp_path / "ref.jpg", BOXES)
    assert made.reference_ext == ".jpg" and stations.reference_path(ws, made).exists()


BAD = {
    "name with a space": ({"name": "wheel 1"}, "station.error_name"),
    "name with a newline": ({"name": "wheel\n"}, "station.error_name"),
    "name too long": ({"name": "w" * 65}, "station.error_name"),
    "margin over 1": ({"margin": 1.5}, "station.error_margin"),
    "margin NaN": ({"margin": float("nan")}, "station.error_margin"),
    "margin a bool": ({"margin": True}, "station.error_margin"),
    "no positions": ({"positions": []}, "station.error_no_positions"),
    "position named twice": (
        {"positions": [BOXES[0], Position("P1", (50, 50, 60, 60))]},
        "station.error_position_twice",
    ),
    "position without a name": ({"positions": [Position("", (1, 1, 5, 5))]}, "station.error_position_name"),
    "box of floats": ({"positions": [Position("P1", (1.5, 1, 5, 5))]}, "station.error_box"),
    "box of three": ({"positions": [Position("P1", (1, 1, 5))]}, "station.error_box"),
    "box backwards": ({"positions": [Position("P1", (40, 10, 10, 40))]}, "station.error_box_order"),
    "box empty": ({"positions": [Position("P1", (10, 10, 10, 40))]}, "station.error_box_order"),
    "box outside": ({"positions": [Position("P1", (100, 10, 161, 40))]}, "station.error_box_outside"),
    "box negative": ({"positions": [Position("P1", (-1, 10, 20, 40))]}, "station.error_box_outside"),
    "not an image": ({"reference": b"%PDF-1.4 not a photo"}, "reject.not_image"),
    "empty reference": ({"reference": b""}, "reject.empty"),
    "unfinished run": ({"run_id": "unfinished"}, "station.error_run"),
    "run id a string": ({"run_id": "7"}, "station.error_run"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_with_a_translated_reason_and_nothing_is_stored(ws, case):
    values, key = BAD[case]
    values = dict(values)
    if values.get("run_id") == "unfinished":
        values["run_id"] = run_row(ws, finished=False)
    args = {"name": "wheel-1", "reference": photo(0), "positions": BOXES, **values}
    before = stored_state(ws)
    with pytest.raises(ValidationError) as caught:
        stations.add_station(ws, TRAINER, **args)
    assert caught.value.key == key
    assert key in i18n.EN and key in i18n.KO
    assert stored_state(ws) == before


def test_an_unknown_run_is_not_found_and_a_name_is_taken_once(ws):
    with pytest.raises(NotFoundError):
        stations.add_station(ws, TRAINER, "w", photo(0), BOXES, run_id=999)
    station(ws, "w")
    before = stored_state(ws)
    with pytest.raises(ValidationError, match="exists already"):
        station(ws, "w", seed=5)
    assert stored_state(ws) == before


def test_a_change_is_a_new_version_and_earlier_versions_are_kept(ws):
    first = station(ws)
    second = stations.update_station(ws, TRAINER, "wheel-1", margin=0.1)
    third = stations.update_station(ws, TRAINER, "wheel-1", reference=photo(9), positions=[BOXES[1]])
    assert [s.version for s in (first, second, third)] == [1, 2, 3]
    assert (second.margin, second.reference_sha256, second.positions) == (0.1, first.reference_sha256, first.positions)
    assert third.reference_sha256 != first.reference_sha256 and third.positions == (BOXES[1],)
    assert stations.get_station(ws.conn, "wheel-1") == third
    assert stations.get_station(ws.conn, "wheel-1", version=1) == first
    assert stations.station_by_id(ws.conn, first.id) == first
    assert stations.list_versions(ws.conn, "wheel-1") == [first, second, third]
    assert stations.reference_path(ws, first).exists()  # the earlier reference stays
    assert [e.details["version"] for e in audit.query(ws.conn, actions=("station.update",))] == [3, 2]


def test_an_update_is_checked_like_an_add(ws):
    station(ws)
    before = stored_state(ws)
    for changes, key in (
        ({}, "station.error_changes"),
        ({"colour": "red"}, "station.error_changes"),
        ({"margin": 0.0}, "station.error_unchanged"),
        ({"positions": [Position("P1", (0, 0, 500, 10))]}, "station.error_box_outside"),
        ({"reference": photo(2, size=(30, 30))}, "station.error_box_outside"),  # the old boxes leave a smaller photo
    ):
        with pytest.raises(ValidationError) as caught:
            stations.update_station(ws, TRAINER, "wheel-1", **changes)
        assert caught.value.key == key, changes
    with pytest.raises(NotFoundError):
        stations.update_station(ws, TRAINER, "nope", margin=0.2)
    assert stored_state(ws) == before


def test_the_model_can_be_set_and_given_back_to_production(ws):
    station(ws)
    run_id = run_row(ws)
    assert stations.update_station(ws, TRAINER, "wheel-1", run_id=run_id).run_id == run_id
    assert stations.update_station(ws, TRAINER, "wheel-1", run_id=None).run_id is None


@pytest.mark.parametrize("role", ["viewer", "labeler"])
def test_only_a_trainer_or_admin_changes_stations(ws, role):
    station(ws)
    before = stored_state(ws)
    actor = auth.Actor("mallory", role)
    with pytest.raises(PermissionDenied, match="needs role 'trainer'"):
        stations.add_station(ws, actor, "w2", photo(1), BOXES)
    with pytest.raises(PermissionDenied):
        stations.update_station(ws, actor, "wheel-1", margin=0.3)
    assert stored_state(ws) == before
    assert [e.target for e in audit.query(ws.conn, actions=("refused",))] == ["station", "station"]
    assert stations.add_station(ws, auth.Actor("ada", "admin"), "w2", photo(1), BOXES).version == 1


def test_station_rows_cannot_be_changed_or_deleted(ws):
    made = station(ws)
    for sql in ("UPDATE stations SET margin = 0.5", "DELETE FROM stations"):
        with pytest.raises(sqlite3.DatabaseError, match="versioned"):
            ws.conn.execute(sql)
    assert stations.get_station(ws.conn, "wheel-1") == made


def test_a_failed_save_takes_back_the_reference_file_it_wrote(ws, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("disk went away")

    monkeypatch.setattr(audit, "record", broken)
    with pytest.raises(RuntimeError):
        station(ws)
    assert stored_state(ws) == ([], [], [])


def test_a_reference_already_stored_is_kept_when_a_later_save_fails(ws, monkeypatch):
    first = station(ws, "a")
    monkeypatch.setattr(audit, "record", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(RuntimeError):
        station(ws, "b")  # the same reference photo
    assert stations.reference_path(ws, first).exists()


def test_positions_are_parsed_from_the_clis_json():
    text = '[{"name": "P1", "box": [1, 2, 3, 4]}, {"name": "P2", "box": [5, 6, 7, 8]}]'
    assert stations.parse_positions(text) == [Position("P1", (1, 2, 3, 4)), Position("P2", (5, 6, 7, 8))]
    for bad, key in (
        ("[{", "station.error_json"),
        ('{"name": "P1"}', "station.error_json_shape"),
        ('[{"name": "P1", "box": [1, 2, 3, 4], "extra": 1}]', "station.error_json_shape"),
        ('[{"box": [1, 2, 3, 4]}]', "station.error_json_shape"),
    ):
        with pytest.raises(ValidationError) as caught:
            stations.parse_positions(bad)
        assert caught.value.key == key


def test_stored_file_names_come_from_a_checked_hash_only(ws):
    with pytest.raises(ValidationError):
        record_files.path(ws, "../../etc/passwd", ".jpg")
    with pytest.raises(ValidationError):
        record_files.path(ws, "a" * 64, "/../x")


def test_an_unknown_station_is_not_found(ws):
    with pytest.raises(NotFoundError) as caught:
        stations.get_station(ws.conn, "nope")
    assert caught.value.key == "station.error_unknown"


def test_an_update_made_from_a_stale_version_is_refused(ws, monkeypatch):
    first = station(ws)
    stations.update_station(ws, TRAINER, "wheel-1", margin=0.1)
    before = stored_state(ws)
    monkeypatch.setattr(stations, "get_station", lambda conn, name, version=None: first)  # read before the change
    with pytest.raises(ValidationError) as caught:
        stations.update_station(ws, TRAINER, "wheel-1", margin=0.3)
    assert caught.value.key == "station.error_changed_meanwhile"
    assert stored_state(ws) == before


def test_doctor_leaves_reference_photos_alone(ws):
    made = station(ws)
    path = stations.reference_path(ws, made)
    os.utime(path, (1_000_000_000, 1_000_000_000))  # settled long ago: doctor would move an unclaimed original
    report = doctor.run(ws, auth.Actor("ada", "admin"))
    assert path.exists() and report.orphan_originals == []
