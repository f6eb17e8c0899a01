"""Every refusal of the API as one JSON shape, {"error": key, "message": English text, ...}, with the status its
cause deserves: core's errors by type, FastAPI's and Starlette's own by status, anything unexpected logged."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from core import i18n, tokens
from core.errors import CoreError, NotFoundError, PermissionDenied, RejectedFile, StorageError, ValidationError

log = logging.getLogger(__name__)

# by type, most specific first: the first match decides
STATUS_BY_TYPE: tuple[tuple[type[CoreError], int], ...] = (
    (tokens.TokenRefused, 401),
    (PermissionDenied, 403),
    (RejectedFile, 422),  # a bad photo, with its reason
    (ValidationError, 422),
    (NotFoundError, 404),
    (StorageError, 503),  # the server's disk or database, not the caller's input
)
# by key, where the type says too little: no production model is the server's state, not a missing thing
STATUS_BY_KEY = {"diagnose.no_model": 409}
BEARER = {"WWW-Authenticate": "Bearer"}


class TooLarge(CoreError):
    """The request body is over the upload limit (413)."""


def answer(
    status: int,
    key: str,
    message: str,
    headers: dict[str, str] | None = None,
    extra: Mapping[str, object] | None = None,
) -> JSONResponse:
    """The one JSON shape of a refusal; `extra` adds the values that filled the message (JSON-safe ones, never
    over the two fields every answer has)."""
    body: dict[str, object] = {
        k: v
        for k, v in (extra or {}).items()
        if isinstance(v, str | int | float | bool | list | type(None)) and k not in ("error", "message")
    }
    body.update(error=key, message=message)
    return JSONResponse(body, status_code=status, headers={**(headers or {}), "Cache-Control": "no-store"})


def status_of(exc: CoreError) -> int:
    if exc.key in STATUS_BY_KEY:
        return STATUS_BY_KEY[exc.key]
    if isinstance(exc, TooLarge):
        return 413
    return next((status for kind, status in STATUS_BY_TYPE if isinstance(exc, kind)), 400)


def core_answer(exc: CoreError) -> JSONResponse:
    status = status_of(exc)
    if status == 503:  # the message names server paths: the operator reads it in the log, the client gets the key
        log.error("API call failed on storage: %s", exc)
        message = i18n.t(exc.key, "en", **exc.detail) if exc.key else "the server's storage failed"
    else:
        message = str(exc)
    return answer(status, exc.key or "api.error", message, BEARER if status == 401 else None, exc.detail)


async def on_core_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CoreError)
    return core_answer(exc)


async def on_bad_request(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own input checks (a missing form field, a non-integer id): 422 with the fields named."""
    assert isinstance(exc, RequestValidationError)
    fields = [
        {"where": ".".join(str(part) for part in error.get("loc", ())), "problem": str(error.get("msg", ""))}
        for error in exc.errors()
    ]
    reason = "; ".join(f"{f['where']}: {f['problem']}" for f in fields)[:500]
    return answer(422, "api.bad_request", i18n.t("api.bad_request", reason=reason), extra={"fields": fields})


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Routing's 404 and 405 (and any other HTTPException) in the same shape."""
    assert isinstance(exc, HTTPException)
    path, method = request.url.path[:200], request.method
    if exc.status_code == 404:
        key, message = "api.not_found", i18n.t("api.not_found", path=path)
    elif exc.status_code == 405:
        key, message = "api.method", i18n.t("api.method", method=method, path=path)
    else:
        key, message = "api.http", i18n.t("api.http", status=exc.status_code)
    return answer(exc.status_code, key, message, dict(exc.headers or {}))


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A fault of the server, not of the input: logged in full under a reference the answer names."""
    ref = secrets.token_hex(4)
    log.error("unexpected error in %s %s (reference %s)", request.method, request.url.path, ref, exc_info=exc)
    return answer(500, "api.internal", i18n.t("api.internal", ref=ref), extra={"ref": ref})


def install(app: FastAPI) -> None:
    app.add_exception_handler(CoreError, on_core_error)
    app.add_exception_handler(RequestValidationError, on_bad_request)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
