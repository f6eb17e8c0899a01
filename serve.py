"""The server: `streamlit run serve.py [-- --workspace DIR] [--no-auth]` serves app.py through Streamlit's ASGI
entry point (st.App), with the one route a Streamlit script cannot provide and two settings made at start.

- POST /auth/session: the browser trades the one-time code its tab got at sign-in (in the request body,
  valid seconds, once) for the session cookie: HttpOnly, SameSite=Strict, signed (core.sessions). DELETE
  drops it at sign-out. Only same-origin requests are served.
- Streamlit's legacy `pages/` discovery is switched off before the first session: app.py registers every
  page with st.navigation, and without this a fresh server's first request would list pages/ modules.
- server.maxUploadSize is BOLTSCOPE_MAX_FILE_MB, the limit core enforces on each file.
- The job supervisor (core.jobs.supervise) runs in a thread for the server's lifetime: a worker killed with -9
  is marked interrupted within seconds even when no page is open. Started and stopped by the app's lifespan.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from streamlit import config as st_config
from streamlit.runtime.pages_manager import PagesManager

from core import config, jobs, sessions
from core.workspace import Workspace, open_workspace

HERE = Path(__file__).parent
MAX_BODY = 256  # a hand-off code is 43 characters

# None means "decide at the first session from whether pages/ exists"; False: st.navigation decides, always.
PagesManager.uses_pages_directory = False
st_config.set_option("server.maxUploadSize", config.load_settings().max_file_mb, "BOLTSCOPE_MAX_FILE_MB")

_BASE = (st_config.get_option("server.baseUrlPath") or "").strip("/")
_lock = threading.Lock()  # one connection for this route, used by one request at a time
_opened: list[tuple[Workspace, bytes]] = []


def _workspace() -> tuple[Workspace, bytes]:
    if not _opened:
        from pages.components import workspace_path  # the same workspace as the pages (argv, then env)

        ws = open_workspace(workspace_path())
        _opened.append((ws, sessions.load_secret(ws.layout.root)))
    return _opened[0]


def _redeem(code: str) -> tuple[str | None, bytes]:
    with _lock:
        ws, key = _workspace()
        return sessions.redeem(ws.conn, code), key


def _same_origin(request: Request) -> bool:
    """A browser names the page that sent a POST or DELETE; refuse any but this server's own pages."""
    origin = request.headers.get("origin")
    site = request.headers.get("sec-fetch-site", "same-origin")
    return bool(origin) and urlsplit(origin).netloc == request.headers.get("host") and site == "same-origin"


async def session_cookie(request: Request) -> Response:
    if not _same_origin(request):
        return PlainTextResponse("cross-origin request refused", status_code=403)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    path = f"/{_BASE}" if _BASE else "/"
    if request.method == "DELETE":
        response.delete_cookie(sessions.COOKIE, path=path, httponly=True, samesite="strict")
        return response
    body = await request.body()
    token, key = await run_in_threadpool(_redeem, body.decode("ascii", "replace").strip()) \
        if len(body) <= MAX_BODY else (None, b"")
    if token is None:
        return PlainTextResponse("unknown, used or expired code", status_code=403)
    secure = request.url.scheme == "https" or bool(st_config.get_option("server.sslCertFile"))
    response.set_cookie(sessions.COOKIE, sessions.sign(key, token), path=path, httponly=True, samesite="strict",
                        secure=secure)
    return response


@asynccontextmanager
async def supervised(_app: object) -> AsyncIterator[None]:
    """One job supervisor per server process, from start-up to shutdown."""
    from pages.components import workspace_path

    thread, stop = jobs.start_supervisor(workspace_path())
    try:
        yield
    finally:
        stop.set()
        await run_in_threadpool(thread.join, 5.0)


app = st.App(
    HERE / "app.py",
    lifespan=supervised,
    routes=[Route(f"/{_BASE}/auth/session" if _BASE else "/auth/session", session_cookie,
                  methods=["POST", "DELETE"])],
)
