"""Load the chart library in the background once a page is idle, so the first chart page opens at once.

Streamlit fetches its Plotly chart code (about 4.7 MB of JavaScript) only when a page first shows a
chart; on a 2-core PC that cost about a second the first time the Evaluate page opened in a tab
(bench/ui.py). Every page emits this small script: two seconds after the page settles, in the browser's
idle time, it imports that same module, which the chart element then finds already loaded. Nothing is
fetched from outside this server; when a Streamlit release renames the file, nothing is emitted.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import streamlit as st

_SCRIPT = """<script>
(() => {
  if (window.__boltscopePrefetch) return;
  window.__boltscopePrefetch = true;
  const entry = document.querySelector('script[src*="static/js/index"]');
  if (!entry) return;
  const url = new URL("%s", entry.src).href;
  const load = () => import(url).catch(() => {});
  // after the page has settled (thumbnails first), in the browser's idle time
  const idle = () => window.requestIdleCallback ? requestIdleCallback(load, {timeout: 4000}) : load();
  setTimeout(idle, 2000);
})();
</script>"""


@cache
def _chunk() -> str | None:
    """File name of Streamlit's Plotly chart chunk (it carries a build hash), or None when not found."""
    folder = Path(st.__file__).parent / "static" / "static" / "js"
    found = sorted(folder.glob("PlotlyChart.*.js"))
    return found[0].name if found else None


def charts_in_background() -> None:
    name = _chunk()
    if name is not None:
        st.html(_SCRIPT % name, unsafe_allow_javascript=True)
