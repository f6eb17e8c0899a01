"""The API's FastAPI app: /v1 endpoints behind bearer tokens, OpenAPI at /docs and /openapi.json (under the
mount: /api/docs), every refusal JSON. Builds nothing at import; the workspace opens at the first call."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import failures, gate, routes
from core import config

DESCRIPTION = """Every call needs a token an admin made (`python -m core token add NAME --role R`):
send it as `Authorization: Bearer <token>`. Refusals are JSON: `{"error": key, "message": text}`."""


def create_app(workspace: Callable[[], str | None]) -> FastAPI:
    """The app for the workspace `workspace()` names (called at the first request: the dashboard's own)."""
    app = FastAPIOffline(  # the docs page's Swagger UI from the wheel, not a CDN: a plant LAN reaches none
        title="boltscope API",
        version="1",
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        static_url="/docs-assets",
    )
    pool = gate.WorkspacePool(workspace)
    app.state.pool = pool
    app.include_router(routes.router)
    failures.install(app)
    # the last added runs first: the token before the body is read
    app.add_middleware(gate.BodyLimit, limit=lambda: config.load_settings(workspace()).max_file_bytes + gate.FORM_SLACK)
    app.add_middleware(gate.BearerGate, pool=pool)
    return app
