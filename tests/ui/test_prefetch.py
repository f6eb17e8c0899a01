"""The chart library is fetched in the background: the script names a file this Streamlit really serves."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from ui import prefetch


def test_the_chart_chunk_exists_in_this_streamlit():
    name = prefetch._chunk()
    assert name is not None, "Streamlit renamed its Plotly chunk: update ui/prefetch.py"
    served = Path(st.__file__).parent / "static" / "static" / "js" / name
    assert served.stat().st_size > 1_000_000  # the chart library itself, not a stub


def test_every_page_emits_the_prefetch_script(ws):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    bodies = [h.proto.body for h in at.get("html")]
    assert any(prefetch._chunk() in b and "import(" in b for b in bodies)
