"""The inspection record: stored whole in one transaction, append-only, corrected by new events, listed in time
order, exported as CSV and JSON."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import sqlite3

import pytest

from core import audit, auth, i18n, inspection_csv, inspections
from core.errors import NotFoundError, PermissionDenied, ValidationError
from tests.core.inspection_helpers import photo, result, run_row, station

VIEWER = auth.Actor("vic", "viewer")
LABELER = auth.Actor("lee", "labeler")


@pytest.fixture
def setup(ws):
    return station(ws), run_row(ws)


def record(ws, setup, seed=10, actor=VIEWER, **values):
    st, run_id = setup
    data = photo(seed)
    return inspections.record_inspection(ws, actor, result(st, data, run_id, **values), data)


def counts(ws) -> tuple[int, ...]:
    tables = ("inspections", "inspection_positions", "inspection_events", "images")
    files = sum(1 for p in (ws.layout.root / "records").rglob("*") if p.is_file())
    return (*(ws.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables), files)


def test_a_viewer_records_an_inspection_with_everything_it_needs(ws, setup):
    st, run_id = setup
    data = photo(10)
    inspection_id = inspections.record_inspection(ws, VIEWER, result(st, data, run_id, {"P2": "broken"}), data)
    got = inspections.get_inspection(ws.conn, inspection_id)
    assert (got.station, got.station_version, got.station_id, got.asset) == ("wheel-1", 1, st.id, "OHT-7/wheel-2")
    assert (got.inspector, got.run_id, got.threshold, got.verdict) == ("vic", run_id, 0.5, "defect")
    assert (got.size, got.photo_name, got.at[:2]) == ((160, 120), "wheel.png", "20")
    assert got.alignment == inspections.AlignmentRecord(True, 0.9, "auto", (1.0, 0.0, 0.0, 0.0, 1.0, 0.0), None)
    assert [(p.name, p.label, p.defect, p.box) for p in got.positions] == [
        ("P1", "normal", False, (10, 10, 40, 40)),
        ("P2", "broken", True, (60, 20, 100, 70)),
    ]
    assert got.positions[1].probs["broken"] == 0.8 and got.positions[0].corners[2] == (40.0, 40.0)
    path = inspections.photo_path(ws, got)
    assert path.read_bytes() == data and path.is_relative_to(ws.layout.root / "records")
    assert ws.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0  # not a dataset image
    (entry,) = audit.query(ws.conn, actions=("inspect",))
    assert (entry.user, entry.target) == ("vic", str(inspection_id))
    assert (entry.details["station"], entry.details["asset"], entry.details["verdict"]) == (
        "wheel-1",
        "OHT-7/wheel-2",
        "defect",
    )


@pytest.mark.parametrize(
    ("values", "verdict"),
    [
        ({}, "pass"),
        ({"labels": {"P1": "missing"}}, "defect"),
        ({"labels": {"P1": None}}, "check"),
        ({"ok": False}, "check"),
    ],
)
def test_the_verdict_is_pass_only_when_every_position_is_normal(ws, setup, values, verdict):
    st, run_id = setup
    assert result(st, photo(1), run_id, **values).verdict == verdict
    assert inspections.get_inspection(ws.conn, record(ws, setup, **values)).verdict == verdict


def test_the_same_photo_twice_is_two_inspections_of_one_stored_file(ws, setup):
    first, second = record(ws, setup), record(ws, setup)
    assert first != second
    assert counts(ws)[0] == 2 and counts(ws)[-1] == 2  # the reference and one inspection photo


BAD = {
    "another photo": (lambda st, run, data: result(st, photo(99), run), "inspect.record.error_photo"),
    "control character in the asset": (
        lambda st, run, data: result(st, data, run, asset="a\x00b"),
        "inspect.record.error_asset",
    ),
    "asset too long": (lambda st, run, data: result(st, data, run, asset="x" * 129), "inspect.record.error_asset"),
    "positions of another station": (
        lambda st, run, data: dataclasses.replace(result(st, data, run), positions=result(st, data, run).positions[:1]),
        "inspect.record.error_positions",
    ),
    "no label but not unfit": (
        lambda st, run, data: dataclasses.replace(
            result(st, data, run),
            positions=tuple(dataclasses.replace(p, label=None) for p in result(st, data, run).positions),
        ),
        "inspect.record.error_unfit",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_result_is_refused_and_nothing_is_stored(ws, setup, case):
    make, key = BAD[case]
    data = photo(10)
    before = counts(ws)
    with pytest.raises(ValidationError) as caught:
        inspections.record_inspection(ws, VIEWER, make(*setup, data), data)
    assert caught.value.key == key and key in i18n.EN and key in i18n.KO
    assert counts(ws) == before
    assert not audit.query(ws.conn, actions=("inspect",))


def test_a_photo_that_is_not_an_image_is_refused(ws, setup):
    st, run_id = setup
    data = b"GIF89a not really"
    made = dataclasses.replace(result(st, photo(1), run_id), photo_sha256=hashlib.sha256(data).hexdigest())
    before = counts(ws)
    with pytest.raises(ValidationError) as caught:
        inspections.record_inspection(ws, VIEWER, made, data)
    assert caught.value.key == "reject.not_image"
    assert counts(ws) == before


def test_an_unknown_run_or_station_version_is_not_found(ws, setup):
    st, run_id = setup
    data = photo(10)
    with pytest.raises(NotFoundError):
        inspections.record_inspection(ws, VIEWER, dataclasses.replace(result(st, data, run_id), run_id=999), data)
    with pytest.raises(NotFoundError):
        inspections.record_inspection(ws, VIEWER, result(dataclasses.replace(st, id=999), data, run_id), data)
    assert counts(ws)[0] == 0


def test_a_failed_transaction_takes_back_the_photo_it_wrote(ws, setup, monkeypatch):
    before = counts(ws)
    monkeypatch.setattr(audit, "record", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(RuntimeError):
        record(ws, setup)
    assert counts(ws) == before


def test_the_record_is_append_only(ws, setup):
    inspection_id = record(ws, setup)
    inspections.correct(ws, LABELER, inspection_id, "P1", "broken")
    for sql in (
        "UPDATE inspections SET verdict = 'pass'",
        "DELETE FROM inspections",
        "UPDATE inspection_positions SET label = 'normal'",
        "DELETE FROM inspection_positions",
        "UPDATE inspection_events SET new_label = 'normal'",
        "DELETE FROM inspection_events",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            ws.conn.execute(sql)
    assert counts(ws)[:3] == (1, 2, 1)


def test_a_correction_is_a_new_event_and_the_current_label_follows_it(ws, setup):
    inspection_id = record(ws, setup, labels={"P2": "broken"})
    first = inspections.correct(ws, LABELER, inspection_id, "P2", "normal", "a shadow, not a crack")
    second = inspections.correct(ws, LABELER, inspection_id, "P2", "missing")
    got = inspections.get_inspection(ws.conn, inspection_id)
    p2 = got.positions[1]
    assert (p2.label, p2.defect, p2.current_label, p2.current_defect) == ("broken", True, "missing", True)
    assert [(c.old_label, c.new_label, c.user) for c in p2.corrections] == [
        ("broken", "normal", "lee"),
        ("normal", "missing", "lee"),
    ]
    assert (first.note, second.id > first.id) == ("a shadow, not a crack", True)
    assert got.verdict == "defect" and got.current_verdict == "defect"
    inspections.correct(ws, LABELER, inspection_id, "P2", "normal")
    got = inspections.get_inspection(ws.conn, inspection_id)
    assert got.verdict == "defect" and got.current_verdict == "pass"  # the record as judged stays
    entries = audit.query(ws.conn, actions=("inspection.correct",))
    assert [(e.target, e.details["position"], e.details["new"]) for e in entries][0] == (
        str(inspection_id),
        "P2",
        "normal",
    )


def test_an_unfit_position_corrected_by_a_person_counts_as_judged(ws, setup):
    inspection_id = record(ws, setup, ok=False)
    assert inspections.get_inspection(ws.conn, inspection_id).current_verdict == "check"
    inspections.correct(ws, LABELER, inspection_id, "P1", "normal")
    assert inspections.get_inspection(ws.conn, inspection_id).current_verdict == "check"
    inspections.correct(ws, LABELER, inspection_id, "P2", "normal")
    assert inspections.get_inspection(ws.conn, inspection_id).current_verdict == "pass"


def test_an_unfamiliar_position_makes_the_photo_check_never_pass(ws, setup):
    """Issue 17: a crop unlike anything the model was trained on is held back; a person's label settles it."""
    st, run_id = setup
    data = photo(12)
    judged = result(st, data, run_id)
    strange = {"percentile": 99.97, "unfamiliar": True}
    positions = (dataclasses.replace(judged.positions[0], familiarity=strange), *judged.positions[1:])
    judged = dataclasses.replace(judged, positions=positions)
    assert judged.verdict == "check"  # every label normal, one crop unfamiliar
    inspection_id = inspections.record_inspection(ws, VIEWER, judged, data)
    got = inspections.get_inspection(ws.conn, inspection_id)
    assert got.verdict == got.current_verdict == "check" and got.positions[0].familiarity == strange
    assert inspections.inspection_json(got)["positions"][0]["familiarity"] == strange
    assert inspections.inspection_json(got)["positions"][1]["familiarity"] is None  # not measured
    from core import inspection_report

    assert [inspection_report.state(p) for p in got.positions[:2]] == ["unfit", "pass"]  # drawn amber, not green
    inspections.correct(ws, LABELER, inspection_id, got.positions[0].name, "missing", "looked: the bolt is gone")
    assert inspections.get_inspection(ws.conn, inspection_id).current_verdict == "defect"
    defect = dataclasses.replace(judged, positions=(positions[0], dataclasses.replace(positions[1], label="broken",
                                 defect=True, probs={"broken": 0.9}), *positions[2:]))  # fmt: skip
    assert defect.verdict == "defect"  # a defect seen is told as a defect


def test_a_bad_correction_is_refused_and_changes_nothing(ws, setup):
    inspection_id = record(ws, setup)
    before = counts(ws)
    with pytest.raises(PermissionDenied):
        inspections.correct(ws, VIEWER, inspection_id, "P1", "broken")
    for args, error in (
        ((inspection_id, "P9", "broken"), ValidationError),
        ((inspection_id, "P1", "rusty"), ValidationError),
        ((inspection_id, "P1", "normal"), ValidationError),  # what it is already
        ((999, "P1", "broken"), NotFoundError),
    ):
        with pytest.raises(error):
            inspections.correct(ws, LABELER, *args)
    with pytest.raises(ValidationError):
        inspections.correct(ws, LABELER, inspection_id, "P1", "broken", "x" * 501)
    assert counts(ws) == before


def test_the_history_is_filtered_and_in_time_order(ws, setup):
    other = station(ws, "wheel-2", seed=4)
    ids = [
        record(ws, setup, seed=20, asset="A"),
        record(ws, setup, seed=21, asset="B"),
        record(ws, (other, setup[1]), seed=22, asset="A"),
        record(ws, setup, seed=23, asset="A"),
    ]
    assert [i.id for i in inspections.list_inspections(ws.conn)] == ids
    assert [i.id for i in inspections.list_inspections(ws.conn, asset="A")] == [ids[0], ids[2], ids[3]]
    assert [i.id for i in inspections.list_inspections(ws.conn, station="wheel-2")] == [ids[2]]
    assert [i.id for i in inspections.list_inspections(ws.conn, asset="A", station="wheel-1")] == [ids[0], ids[3]]
    third_at = inspections.get_inspection(ws.conn, ids[2]).at
    assert [i.id for i in inspections.list_inspections(ws.conn, since=third_at)] == ids[2:]
    assert [i.id for i in inspections.list_inspections(ws.conn, until=third_at)] == ids[:2]
    assert inspections.list_inspections(ws.conn, since="2999-01-01") == []
    assert len(inspections.list_inspections(ws.conn, since="2020-01-01T00:00+09:00")) == 4
    listed = inspections.list_inspections(ws.conn, asset="A")
    assert [len(i.positions) for i in listed] == [2, 2, 2]
    assert listed[0] == inspections.get_inspection(ws.conn, ids[0])
    with pytest.raises(ValidationError) as caught:
        inspections.list_inspections(ws.conn, since="yesterday")
    assert caught.value.key == "inspect.record.error_since"


def test_the_json_has_the_issues_shape(ws, setup):
    got = inspections.get_inspection(ws.conn, record(ws, setup, labels={"P1": None}))
    out = inspections.inspection_json(got)
    assert {
        "inspection_id",
        "photo",
        "station",
        "asset",
        "verdict",
        "alignment",
        "positions",
        "at",
        "inspector",
        "run_id",
        "threshold",
    } <= set(out)
    assert (out["inspection_id"], out["photo"], out["station"], out["verdict"]) == (
        got.id,
        "wheel.png",
        "wheel-1",
        "check",
    )
    assert out["alignment"]["ok"] is True and out["alignment"]["score"] == 0.9
    p1, p2 = out["positions"]
    assert {"name", "label", "defect", "probs", "box"} <= set(p1)
    assert (p1["label"], p1["defect"], p1["probs"], p1["unfit"]) == (None, True, {}, "outside")
    assert (p2["name"], p2["label"], p2["box"]) == ("P2", "normal", [60, 20, 100, 70])
    import json

    assert json.loads(json.dumps(out)) == out


def test_the_csv_has_a_row_per_position_and_neutralises_formulas(ws, setup):
    record(ws, setup, asset='=HYPERLINK("http://x")', labels={"P2": "broken"})
    inspection_id = record(ws, setup, seed=11, asset="OHT-1")
    inspections.correct(ws, LABELER, inspection_id, "P1", "missing")
    rows = list(csv.DictReader(io.StringIO(inspection_csv.text(inspections.list_inspections(ws.conn)))))
    assert len(rows) == 4
    assert rows[0]["asset"] == '\'=HYPERLINK("http://x")'
    assert (rows[1]["position"], rows[1]["label"], rows[1]["defect"], rows[1]["verdict"]) == (
        "P2",
        "broken",
        "True",
        "defect",
    )
    assert (rows[2]["label"], rows[2]["current_label"], rows[2]["current_verdict"]) == ("normal", "missing", "defect")
    assert inspection_csv.data([]).startswith(b"\xef\xbb\xbf")
