"""boltscope dashboard: sign-in, navigation by role, sidebar (workspace, language, user) and the pages."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core import auth, i18n
from pages import components as ui
from pages import prefetch, session

HERE = Path(__file__).parent
ASSETS = HERE / "assets"
st.set_page_config(page_title="boltscope", page_icon=str(ASSETS / "icon.svg"), layout="wide")
st.logo(str(ASSETS / "logo.svg"), icon_image=str(ASSETS / "icon.svg"))

ws = ui.workspace()
me = session.signed_in(ws)

with st.sidebar:
    st.radio(
        ":material/language: " + ui.tr("app.language"),
        list(i18n.LANGUAGES),
        format_func=lambda code: i18n.LANGUAGES[code],
        horizontal=True,
        key="lang",
    )
    if me is not None:
        st.caption(f":material/folder: {ui.tr('app.workspace')}: `{ws.settings.workspace}`")
        st.caption(":material/person: " + ui.tr("app.user", name=me.name, role=ui.tr(f"role.{me.role}")))
        if not session.auth_off() and st.button(ui.tr("app.signout"), icon=":material/logout:", key="signout"):
            session.sign_out(ws)
            st.rerun()
        ui.job_status(ws)
    prefetch.charts_in_background()

if me is None:  # nothing but the sign-in page exists for a visitor; at "/", so signing in lands on the default page
    st.navigation([st.Page(HERE / "pages" / "signin.py", title=ui.tr("page.signin"), icon=":material/login:",
                           default=True)], position="hidden").run()
    st.stop()

if session.auth_off():
    st.warning(ui.tr("app.no_auth_banner", name=me.name), icon=":material/lock_open:")

# (file, title key, icon, url path, the action a role needs to see the page)
PAGES = (
    ("dataset.py", "page.dataset", ":material/photo_library:", "photos", "view"),
    ("train.py", "page.train", ":material/model_training:", "training", "train"),
    ("evaluate.py", "page.evaluate", ":material/analytics:", "results", "view"),
    ("review.py", "page.review", ":material/rule:", "check", "relabel"),
    ("diagnose.py", "page.diagnose", ":material/troubleshoot:", "diagnosis", "diagnose"),
    ("admin.py", "page.admin", ":material/admin_panel_settings:", "manage", "users"),
)
pages = [st.Page(HERE / "pages" / file, title=ui.tr(title), icon=icon, url_path=url, default=index == 0)
         for index, (file, title, icon, url, action) in enumerate(PAGES) if auth.can(me, action)]
st.navigation(pages).run()
