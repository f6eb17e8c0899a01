"""What every API call passes before its body is read: the bearer token (401), then the size of the body (413).

Both are ASGI middleware, not FastAPI dependencies, because FastAPI parses a multipart body before it runs any
dependency: a caller without a token would otherwise make the server spool a 100 MB upload to disk first.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.routing import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import failures
from core import i18n, tokens
from core.errors import CoreError
from core.workspace import Workspace, open_workspace

GUARDED = "/v1/"  # every endpoint; the docs and the OpenAPI schema are open (they hold no data)
FORM_SLACK = 1024 * 1024  # the multipart framing and the small fields around one file


class WorkspacePool:
    """One open workspace per server thread: a SQLite connection is used by one request at a time, and each
    request does not pay for opening (quick_check, migrations) again."""

    def __init__(self, path: Callable[[], str | None]) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[Workspace] = []

    def get(self) -> Workspace:
        ws = getattr(self._local, "ws", None)
        if ws is None:
            ws = open_workspace(self.path())
            self._local.ws = ws
            with self._lock:
                self._opened.append(ws)
        return ws

    def close(self) -> None:
        with self._lock:
            for ws in self._opened:
                ws.close()
            self._opened.clear()
        self._local = threading.local()


def _authenticate(pool: WorkspacePool, secret: str | None, client: str, endpoint: str):
    return tokens.check_token(pool.get().conn, secret, client=client, endpoint=endpoint)


def bearer_secret(authorization: str | None) -> str | None:
    """The token of 'Authorization: Bearer <token>' (the scheme in any case), None for anything else."""
    scheme, _, secret = (authorization or "").strip().partition(" ")
    return (secret.strip() or None) if scheme.lower() == "bearer" else None


class BearerGate:
    """/v1/…: 401 JSON without a live token; the actor it stands for goes to request.state.actor."""

    def __init__(self, app: ASGIApp, pool: WorkspacePool) -> None:
        self.app, self.pool = app, pool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not get_route_path(scope).startswith(GUARDED):
            await self.app(scope, receive, send)
            return
        request = HTTPConnection(scope)
        secret = bearer_secret(request.headers.get("authorization"))
        if secret is None:
            missing = failures.answer(401, "api.token_missing", i18n.t("api.token_missing"), failures.BEARER)
            await missing(scope, receive, send)
            return
        client = f"{request.client.host}:{request.client.port}" if request.client else ""
        endpoint = ascii(f"{scope['method']} {get_route_path(scope)}")[1:-1][:200]  # no control characters in logs
        try:
            actor = await run_in_threadpool(_authenticate, self.pool, secret, client, endpoint)
        except CoreError as exc:  # refused, or a storage fault while checking
            await failures.core_answer(exc)(scope, receive, send)
            return
        except sqlite3.Error as exc:
            await failures.core_answer(CoreError(f"database error: {exc}", key="api.error"))(scope, receive, send)
            return
        scope.setdefault("state", {})["actor"] = actor
        await self.app(scope, receive, send)


class BodyLimit:
    """413 JSON for a body over `limit()` bytes: at once from Content-Length, else when the streamed body passes
    it (whatever the app was answering is replaced)."""

    def __init__(self, app: ASGIApp, limit: Callable[[], int]) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        too_large = failures.answer(
            413, "api.too_large", i18n.t("api.too_large", limit_mb=limit // 2**20), extra={"limit_mb": limit // 2**20}
        )
        declared = HTTPConnection(scope).headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await too_large(scope, receive, send)
            return
        state = {"seen": 0, "over": False, "started": False}

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > limit:
                    state["over"] = True
                    raise failures.TooLarge("the request body is over the upload limit", key="api.too_large")
            return message

        async def guarded(message: Message) -> None:
            if state["over"]:  # the app's answer to a cut body (FastAPI: 400) is not the truth
                return
            state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except failures.TooLarge:
            pass
        if state["over"] and not state["started"]:
            await too_large(scope, receive, send)
