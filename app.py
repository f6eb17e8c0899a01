"""boltscope dashboard: sign-in, navigation by role, sidebar (workspace, language, user) and the pages.

Served by serve.py (`streamlit run serve.py`), which adds the session-cookie route; every page URL, signed in
or not, is registered here, so a deep link shows its page, the sign-in (then its page) or a translated
"not for your role", never Streamlit's "Page not found".
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core import auth, i18n
from core.errors import CoreError
from ui import components as ui
from ui import prefetch, session

HERE = Path(__file__).parent
ASSETS = HERE / "assets"
SIGNIN = HERE / "pages" / "signin.py"
# The default page lives at "/"; this url_path only names it, with a name no file in pages/ has: AppTest runs
# Streamlit's legacy pages/ discovery first, which would run a file of that name on its own.
HOME = "home"
st.set_page_config(page_title="boltscope", page_icon=str(ASSETS / "icon.svg"), layout="wide")
st.logo(str(ASSETS / "logo.svg"), icon_image=str(ASSETS / "icon.svg"))

# (file, title key, icon, url path, the action a role needs to see the page)
PAGES = (
    ("dataset.py", "page.dataset", ":material/photo_library:", "photos", "view"),
    ("train.py", "page.train", ":material/model_training:", "training", "train"),
    ("evaluate.py", "page.evaluate", ":material/analytics:", "results", "view"),
    ("review.py", "page.review", ":material/rule:", "check", "relabel"),
    ("inspect.py", "page.inspect", ":material/search_check:", "inspections", "inspect"),
    ("diagnose.py", "page.diagnose", ":material/troubleshoot:", "diagnosis", "diagnose"),
    ("admin.py", "page.admin", ":material/admin_panel_settings:", "manage", "users"),
)


def registered(me: auth.Actor | None) -> list[st.Page]:
    """Every page URL for this visitor: the page, the sign-in, or "not for your role"; under each file's own
    name (/diagnose, as an old bookmark has it) a hidden link that switches to it. At "/" the sign-in, or the
    first page (every role may view it), which also keeps its own URL (/photos): a default page answers "/" only."""
    first, title, icon = HERE / "pages" / PAGES[0][0], PAGES[0][1], PAGES[0][2]
    pages = [
        st.Page(SIGNIN, title=ui.tr("page.signin"), icon=":material/login:", url_path=HOME, default=True)
        if me is None
        else st.Page(first, title=ui.tr(title), icon=icon, url_path=HOME, default=True)
    ]
    for file, title, icon, url, action in PAGES:
        if me is None:
            page = st.Page(SIGNIN, title=ui.tr("page.signin"), url_path=url, visibility="hidden")
        elif auth.can(me, action):
            page = st.Page(
                HERE / "pages" / file,
                title=ui.tr(title),
                icon=icon,
                url_path=url,
                visibility="hidden" if file == first.name else "visible",
            )
        else:
            page = st.Page(session.not_allowed(title, action), title=ui.tr(title), url_path=url, visibility="hidden")
        pages += [page, st.Page(_switch_to(page), title=ui.tr(title), url_path=Path(file).stem, visibility="hidden")]
    return pages


def _switch_to(page: st.Page):
    def alias() -> None:
        st.switch_page(page)

    return alias


ws = ui.workspace()
me = session.signed_in(ws)

with st.sidebar:
    st.radio(
        ":material/language: " + ui.tr("app.language"),
        list(i18n.LANGUAGES),
        format_func=lambda code: i18n.LANGUAGES[code],
        horizontal=True,
        key="lang",
        on_change=session.remember_lang,
        args=(ws,),
    )
    if me is not None:
        st.caption(f":material/folder: {ui.tr('app.workspace')}: `{ws.settings.workspace}`")
        st.caption(":material/person: " + ui.tr("app.user", name=ui.plain(me.name), role=ui.tr(f"role.{me.role}")))
        if not session.auth_off() and st.button(ui.tr("app.signout"), icon=":material/logout:", key="signout"):
            session.sign_out(ws)
            st.rerun()
        ui.job_status(ws)
    session.cookie_script(ws)
    prefetch.charts_in_background()

if me is not None and session.auth_off():
    st.warning(ui.tr("app.no_auth_banner", name=ui.plain(me.name)), icon=":material/lock_open:")
try:
    with auth.audit_refusals(ws.conn):  # a refusal deep in core is audited even where no connection is passed
        st.navigation(registered(me), position="hidden" if me is None else "sidebar").run()
except CoreError as exc:  # e.g. the database was damaged under an open session: say so, translated, no traceback
    ui.show_error(exc)
