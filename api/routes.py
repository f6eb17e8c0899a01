"""The endpoints under /api/v1: diagnose one crop, inspect a whole photo, list inspections, an inspection's report.

Each handler is a plain function run in the server's thread pool; it calls core as a page does (the role checked
in core, refusals audited on the request's connection) and the torch tier only inside the call.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.security import HTTPBearer
from starlette.responses import Response

from api import failures, predictors, schemas
from core import auth, i18n, sources, tokens
from core.workspace import Workspace

# Documents the header in OpenAPI ("Authorize" in /api/docs); the check itself is gate.BearerGate's, before the body
router = APIRouter(prefix="/v1", dependencies=[Depends(HTTPBearer(auto_error=False))], responses=schemas.REFUSALS)


@contextmanager
def acting(request: Request) -> Iterator[tuple[Workspace, auth.Actor]]:
    """The request's workspace and actor; a refusal of a call that names no connection is audited on it too."""
    ws = request.app.state.pool.get()
    actor = request.scope.get("state", {}).get("actor")
    if not isinstance(actor, auth.Actor):  # only when the gate was left out of the app
        raise tokens.TokenRefused("unknown or revoked API token", key="api.token_refused")
    with auth.audit_refusals(ws.conn):
        yield ws, actor


def read_upload(upload: UploadFile, limit: int) -> bytes:
    """The file's bytes; 413 over the per-file limit (BOLTSCOPE_MAX_FILE_MB), as the dashboard's uploads."""
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise failures.TooLarge(
            f"the file is larger than the limit of {limit // 2**20} MB",
            key="api.too_large",
            limit_mb=limit // 2**20,
        )
    return data


def upload_name(upload: UploadFile, default: str) -> str:
    """The file name the client gave, as a plain name (no folders, no control characters)."""
    raw = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = sources.display_name(raw)
    return default if name in ("unnamed", ".", "..") or name.startswith(".") else name


@router.post("/diagnose", response_model=schemas.DiagnosisBody, summary="Judge one crop of one bolt")
def post_diagnose(request: Request, file: Annotated[UploadFile, File(description="the crop: JPEG, PNG, …")]) -> dict:
    """The production model's decision at its operating point, as the Diagnose page shows it (no heatmap)."""
    with acting(request) as (ws, actor):
        auth.require(actor, "diagnose", ws.conn)
        data = read_upload(file, ws.settings.max_file_bytes)
        loaded = predictors.model(ws)
        from core.ml import diagnosis  # the torch tier

        result = diagnosis.diagnose(ws, loaded.predictor, upload_name(file, "crop"), data)
    return {
        "label": result.result.label,
        "defect": result.result.defect,
        "verdict": result.verdict,
        "top": result.result.top,
        "probs": result.result.probs,
        "unfit": list(result.issues),
        "familiarity": result.result.familiarity.to_json() if result.result.familiarity else None,
        "operating_point": loaded.operating_point,
        "run_id": loaded.run_id,
        "width": result.width,
        "height": result.height,
        "sha256": result.sha256,
    }


@router.post("/inspections", response_model=schemas.InspectionBody, summary="Inspect one whole photo at a station")
def create_inspection(
    request: Request,
    photo: Annotated[UploadFile, File(description="the whole photo")],
    station: Annotated[str, Form(description="the station's name")],
    asset: Annotated[str, Form(description="vehicle and wheel, as the CLI's --asset")] = "",
) -> dict:
    """Aligned, judged position by position and recorded, as `inspect PHOTO --station S` does; the record."""
    with acting(request) as (ws, actor):
        auth.require(actor, "inspect", ws.conn)
        data = read_upload(photo, ws.settings.max_file_bytes)
        from core import inspections
        from core.ml import inspect  # the torch tier

        # the CLI's and the page's entry point, with the station's model and reference loaded once per server
        setup = predictors.station_setup(ws, station)
        name = upload_name(photo, "photo.jpg")
        inspection_id, _result, _judged = inspect.inspect_data(ws, actor, setup, name, data, asset)
        return inspections.inspection_json(inspections.get_inspection(ws.conn, inspection_id))


@router.get("/inspections", response_model=list[schemas.InspectionBody], summary="Inspections, oldest first")
def get_inspections(
    request: Request,
    asset: Annotated[str | None, Query(description="only this asset")] = None,
    station: Annotated[str | None, Query(description="only this station")] = None,
    since: Annotated[str | None, Query(description="ISO date or time (UTC)")] = None,
) -> list[dict]:
    with acting(request) as (ws, actor):
        auth.require(actor, "view", ws.conn)
        from core import inspections

        found = inspections.list_inspections(ws.conn, asset=asset or None, station=station or None, since=since)
        return [inspections.inspection_json(item) for item in found]


@router.get(
    "/inspections/{inspection_id}/report.pdf",
    summary="The printable report of one inspection (PDF)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, 501: {"model": schemas.RefusalBody}},
)
def report_pdf(
    request: Request,
    inspection_id: int,
    lang: Annotated[Literal["en", "ko"], Query(description="the report's language")] = "en",
) -> Response:
    """The report the Inspect page downloads, with its signature line; each download is audited ("report")."""
    with acting(request) as (ws, actor):
        auth.require(actor, "inspect", ws.conn)
        from core import inspections

        inspections.get_inspection(ws.conn, inspection_id)  # 404 for an unknown id, before anything else
        if importlib.util.find_spec("core.inspection_report") is None:  # the report module of a later round
            return failures.answer(501, "api.report_later", i18n.t("api.report_later"))
        from core import inspection_report

        data = inspection_report.inspection_pdf(ws, actor, inspection_id, lang)
    headers = {"Content-Disposition": f'attachment; filename="inspection-{inspection_id}.pdf"'}
    return Response(data, media_type="application/pdf", headers={**headers, "Cache-Control": "no-store"})
