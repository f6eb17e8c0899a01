"""The server: `streamlit run serve.py [-- --workspace DIR] [--no-auth]` serves app.py through Streamlit's ASGI
entry point (st.App), with the one route a Streamlit script cannot provide and the settings made at start.

- POST /auth/session: the browser trades the one-time code its tab got at sign-in (in the request body,
  valid seconds, once) for the session cookie: HttpOnly, SameSite=Strict, signed (core.sessions). DELETE
  drops it at sign-out. Only same-origin requests are served.
- /api: the HTTP API for cameras and other systems (api/: FastAPI, bearer tokens, OpenAPI at /api/docs),
  on the same workspace as the pages.
- Streamlit's legacy `pages/` discovery is switched off before the first session: app.py registers every
  page with st.navigation, and without this a fresh server's first request would list pages/ modules.
- server.maxUploadSize is BOLTSCOPE_MAX_FILE_MB, the limit core enforces on each file.
- The job supervisor (core.jobs.supervise) runs in a thread for the server's lifetime: a worker killed with -9
  is marked interrupted within seconds even when no page is open. Started and stopped by the app's lifespan.
- Streamlit's own surface is narrowed by middleware: its session ids (a websocket that names one resumes that
  session) are redacted from its log lines, and a session resumes only for a connection with the same session
  cookie; /_stcore/metrics answers only a signed-in admin's cookie; a websocket's clear_cache message (it
  clears every user's caches) is dropped: nothing in the app's UI sends one.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from streamlit import config as st_config
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.runtime.pages_manager import PagesManager

from api import app as api_app
from core import config, jobs, sessions
from core.workspace import Workspace, open_workspace

HERE = Path(__file__).parent
MAX_BODY = 256  # a hand-off code is 43 characters

# None means "decide at the first session from whether pages/ exists"; False: st.navigation decides, always.
PagesManager.uses_pages_directory = False
st_config.set_option("server.maxUploadSize", config.load_settings().max_file_mb, "BOLTSCOPE_MAX_FILE_MB")

_BASE = (st_config.get_option("server.baseUrlPath") or "").strip("/")
# A websocket may resume a Streamlit session only with the same user info as the connection that made it; this
# header, set by BindSessions (never taken from the client), puts the session cookie into that user info.
BIND_HEADER = "x-boltscope-bind"
st_config.set_option("server.trustedUserHeaders", {BIND_HEADER: "boltscope_bind"}, "serve.py")
_lock = threading.Lock()  # one connection for this route, used by one request at a time
_opened: list[tuple[Workspace, bytes]] = []


def _workspace() -> tuple[Workspace, bytes]:
    if not _opened:
        from ui.components import workspace_path  # the same workspace as the pages (argv, then env)

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
    token, key = (
        await run_in_threadpool(_redeem, body.decode("ascii", "replace").strip())
        if len(body) <= MAX_BODY
        else (None, b"")
    )
    if token is None:
        return PlainTextResponse("unknown, used or expired code", status_code=403)
    secure = request.url.scheme == "https" or bool(st_config.get_option("server.sslCertFile"))
    response.set_cookie(
        sessions.COOKIE, sessions.sign(key, token), path=path, httponly=True, samesite="strict", secure=secure
    )
    return response


# Streamlit's session ids: uuid4 text. Any id in a streamlit.* log record is replaced before a handler sees it.
_SESSION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
REDACTED = "<session id>"


def redact_session_ids() -> None:
    """Streamlit logs a session id (which lets a websocket take that session over) at WARNING when a connection
    asks to resume another's session; every Streamlit logger has its own handler, so the records are rewritten
    where they are made. Installed once per process."""
    make = logging.getLogRecordFactory()
    if getattr(make, "redacts_session_ids", False):
        return

    def record(*args, **kwargs) -> logging.LogRecord:
        made = make(*args, **kwargs)
        if made.name.startswith("streamlit"):
            try:
                text = made.getMessage()
            except Exception:  # noqa: BLE001 - a malformed call still logs, unformatted, as logging itself would
                return made
            if _SESSION_ID.search(text):
                made.msg, made.args = _SESSION_ID.sub(REDACTED, text), None
        return made

    record.redacts_session_ids = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(record)


def _core_path(name: str) -> str:
    return f"/{_BASE}/_stcore/{name}" if _BASE else f"/_stcore/{name}"


class MetricsGate:
    """/_stcore/metrics (sessions, caches, script runs) only for a signed-in admin's cookie; 403 for others."""

    def __init__(self, app, allowed) -> None:
        self.app, self.allowed, self.path = app, allowed, _core_path("metrics")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == self.path:
            cookie = Request(scope).cookies.get(sessions.COOKIE)
            if not await run_in_threadpool(self.allowed, cookie):
                await PlainTextResponse("sign in as an admin", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class DropClearCache:
    """Streamlit clears every user's st.cache_data and st.cache_resource when any websocket, signed in or not,
    sends clear_cache; the app's UI never sends it (toolbarMode minimal, no developer mode), so it is dropped."""

    def __init__(self, app) -> None:
        self.app, self.path = app, _core_path("stream")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "websocket" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return

        async def filtered() -> dict:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive" or not _is_clear_cache(message.get("bytes")):
                    return message

        await self.app(scope, filtered, send)


class BindSessions:
    """Streamlit resumes the session whose id a websocket names (its third subprotocol) when the user info
    matches. The user info gets a digest of the boltscope session cookie, so a session id read elsewhere does
    not hand a signed-in session to a connection without that cookie. Without a cookie, the digest is random
    per connection when sign-in is on (a tab that signed in over this socket gets the cookie only later);
    in single-user mode it is empty, so a dropped connection still resumes its session."""

    def __init__(self, app, auth_off) -> None:
        self.app, self.auth_off, self.path = app, auth_off, _core_path("stream")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket" and scope["path"] == self.path:
            cookie = HTTPConnection(scope).cookies.get(sessions.COOKIE)
            bind = (
                hashlib.sha256(cookie.encode()).hexdigest()
                if cookie
                else ""
                if self.auth_off()
                else secrets.token_hex(16)
            )
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != BIND_HEADER.encode()]
            scope = {**scope, "headers": [*headers, (BIND_HEADER.encode(), bind.encode())]}
        await self.app(scope, receive, send)


def _is_clear_cache(frame: bytes | None) -> bool:
    if not frame:
        return False
    msg = BackMsg()
    try:
        msg.ParseFromString(frame)
    except Exception:  # noqa: BLE001 - Streamlit itself answers a malformed frame (it closes the socket)
        return False
    return msg.WhichOneof("type") == "clear_cache"


@asynccontextmanager
async def supervised(_app: object) -> AsyncIterator[None]:
    """One job supervisor per server process, from start-up to shutdown."""
    from ui.components import workspace_path

    thread, stop = jobs.start_supervisor(workspace_path())
    try:
        yield
    finally:
        stop.set()
        await run_in_threadpool(thread.join, 5.0)


def _auth_off() -> bool:
    from ui.session import auth_off

    return auth_off()


def _admin_cookie(cookie: str | None) -> bool:
    """True for the cookie of a live session of an admin whose account is enabled (no idle clock restarted)."""
    from ui.session import idle_minutes

    if not cookie:
        return False
    with _lock:
        ws, key = _workspace()
        token = sessions.verify(key, cookie)
        session_id = sessions.find(ws.conn, token) if token else None
        if session_id is None:
            return False
        status = sessions.lookup(ws.conn, session_id, timedelta(minutes=idle_minutes()), touch_it=False)
    return status.actor is not None and status.actor.role == "admin"


def _workspace_path() -> str | None:
    from ui.components import workspace_path  # the same workspace as the pages (argv, then env)

    return workspace_path()


redact_session_ids()
app = st.App(
    HERE / "app.py",
    lifespan=supervised,
    middleware=[
        Middleware(MetricsGate, allowed=_admin_cookie),
        Middleware(BindSessions, auth_off=_auth_off),
        Middleware(DropClearCache),
    ],
    routes=[
        Route(f"/{_BASE}/auth/session" if _BASE else "/auth/session", session_cookie, methods=["POST", "DELETE"]),
        Mount(f"/{_BASE}/api" if _BASE else "/api", app=api_app.create_app(_workspace_path)),
    ],
)
