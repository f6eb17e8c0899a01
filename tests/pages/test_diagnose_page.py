"""AppTest: the Diagnose page without a production model explains how to get one instead of failing."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def test_no_production_model_says_how_to_get_one(ws):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/diagnose.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Diagnose"
    assert any("no production model yet" in i.value and "Quick model" in i.value for i in at.info)
    at.radio(key="lang").set_value("ko").run()
    assert any("운영 모델이 없습니다" in i.value for i in at.info)
