"""boltscope dashboard: navigation, sidebar (workspace, language, user) and the registered pages."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core import i18n
from pages import components as ui

ASSETS = Path(__file__).parent / "assets"
st.set_page_config(page_title="boltscope", page_icon=str(ASSETS / "icon.svg"), layout="wide")
st.logo(str(ASSETS / "logo.svg"), icon_image=str(ASSETS / "icon.svg"))

ws = ui.workspace()
me = ui.actor()

with st.sidebar:
    st.radio(
        ":material/language: " + ui.tr("app.language"),
        list(i18n.LANGUAGES),
        format_func=lambda code: i18n.LANGUAGES[code],
        horizontal=True,
        key="lang",
    )
    st.caption(f":material/folder: {ui.tr('app.workspace')}: `{ws.settings.workspace}`")
    st.caption(":material/person: " + ui.tr("app.user", name=me.name, role=ui.tr(f"role.{me.role}")))
    ui.job_status(ws)

pages = [
    st.Page(Path(__file__).parent / "pages" / "dataset.py", title=ui.tr("page.dataset"),
            icon=":material/photo_library:", url_path="photos", default=True),
    st.Page(Path(__file__).parent / "pages" / "train.py", title=ui.tr("page.train"),
            icon=":material/model_training:", url_path="training"),
    st.Page(Path(__file__).parent / "pages" / "evaluate.py", title=ui.tr("page.evaluate"),
            icon=":material/analytics:", url_path="results"),
    st.Page(Path(__file__).parent / "pages" / "review.py", title=ui.tr("page.review"),
            icon=":material/rule:", url_path="check"),
    st.Page(Path(__file__).parent / "pages" / "diagnose.py", title=ui.tr("page.diagnose"),
            icon=":material/troubleshoot:", url_path="diagnosis"),
]
st.navigation(pages).run()
