"""`/api/v1/imports`: upload a CSV of opt-outs or contacts, confirm its row count, follow it (R21).

The upload is `multipart/form-data`; the file part is spooled to disk by the form parser (it
is never held whole in memory) and then read twice by `actions.imports.create_import`: once to
check it, once to store it in the database in chunks and predict its outcomes. Nothing changes
until `POST /imports/{id}/confirm` names the row count the upload reported.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from assent.actions import imports as actions
from assent.api import auth
from assent.api.common import db_of
from assent.api.schemas import Strict
from assent.domain.imports import ImportKind
from assent.domain.model import Channel, Evidence, LegalBasis
from assent.services import imports as reading
from assent.services.apikeys import Principal
from assent.services.errors import Collected, Invalid

router = APIRouter(tags=["imports"])

_FIELDS = (
    "kind",
    "channel",
    "business_unit_id",
    "mapping",
    "legal_basis",
    "legal_basis_explanation",
    "processing_legal_basis",
)
_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "kind"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "CSV, UTF-8, header row"},
                        "kind": {"type": "string", "enum": [k.value for k in ImportKind]},
                        "channel": {"type": "string", "enum": [c.value for c in Channel], "default": "EMAIL"},
                        "business_unit_id": {"type": "integer", "default": 0},
                        "mapping": {"type": "string", "description": 'JSON: {"column": "field"}'},
                        "legal_basis": {"type": "string", "enum": [b.value for b in LegalBasis]},
                        "legal_basis_explanation": {"type": "string", "maxLength": 4000},
                        "processing_legal_basis": {"type": "string", "enum": [b.value for b in LegalBasis]},
                    },
                }
            }
        },
    }
}


class ImportCounts(BaseModel):
    CHANGED: int
    UNCHANGED: int
    REFUSED: int
    INVALID: int


class ImportProgress(BaseModel):
    done: int
    total: int


class ImportOut(BaseModel):
    id: str
    kind: str
    status: str
    channel: str
    business_unit_id: int
    file_name: str | None
    row_count: int
    columns: list[str]
    mapping: dict[str, str]
    sample: list[dict[str, str]]
    predicted: dict[str, Any] = Field(description="The dry run's counts: what confirming would do")
    progress: ImportProgress
    counts: ImportCounts
    by_reason: dict[str, int]
    job_id: str | None


class ImportPage(BaseModel):
    results: list[ImportOut]
    next: str | None


class ConfirmIn(Strict):
    row_count: Annotated[int, Field(ge=0, le=1_000_000_000)]


def _choice(form: Any, name: str, allowed: type[Any], default: Any = None) -> Any:
    raw = form.get(name)
    if raw is None or raw == "":
        if default is None:
            return None
        return default
    try:
        return allowed(str(raw).strip().upper())
    except ValueError:
        options = ", ".join(v.value for v in allowed)
        raise Invalid(name, f"must be one of {options}") from None


def _request_of(form: Any, upload: UploadFile, max_bytes: int) -> actions.ImportRequest:
    kind = _choice(form, "kind", ImportKind)
    if kind is None:
        raise Invalid("kind", "say what the file is: OPT_OUTS or CONTACTS", "REQUIRED")
    raw_unit = str(form.get("business_unit_id") or "0").strip()
    if not raw_unit.isdecimal() or len(raw_unit) > 9:
        raise Invalid("business_unit_id", "must be a business unit id")
    mapping: dict[str, str] | None = None
    if form.get("mapping"):
        try:
            parsed = json.loads(str(form.get("mapping")))
        except ValueError:
            raise Invalid("mapping", 'must be a JSON object: {"column": "field"}') from None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise Invalid("mapping", 'must be a JSON object of strings: {"column": "field"}')
        mapping = {str(k): v for k, v in parsed.items()}
    explanation = str(form.get("legal_basis_explanation") or "").strip()
    if len(explanation) > 4000:
        raise Invalid("legal_basis_explanation", "at most 4000 characters")
    return actions.ImportRequest(
        kind=kind,
        channel=_choice(form, "channel", Channel, Channel.EMAIL),
        business_unit_id=int(raw_unit),
        mapping=mapping,
        evidence=Evidence(
            legal_basis=_choice(form, "legal_basis", LegalBasis),
            legal_basis_explanation=explanation or None,
            processing_legal_basis=_choice(form, "processing_legal_basis", LegalBasis),
        ),
        file_name=upload.filename,
        max_bytes=max_bytes,
    )


@router.post(
    "/imports",
    status_code=201,
    response_model=ImportOut,
    summary="Upload a CSV of opt-outs or contacts (nothing changes until it is confirmed)",
    openapi_extra=_UPLOAD_DOC,
)
async def create_import(request: Request, principal: Principal = Depends(auth.write)) -> dict[str, Any]:
    try:
        form = await request.form(max_files=1, max_fields=len(_FIELDS) + 2, max_part_size=64 * 1024)
    except StarletteHTTPException as error:  # the multipart parser's own 400
        reason = f"the body is not a multipart/form-data upload: {error.detail}"
        raise Invalid("file", reason, "INVALID_UPLOAD") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            problems = Collected()
            problems.add("file", "attach the CSV file as the multipart part `file`", "REQUIRED")
            problems.raise_if_any()
        assert isinstance(upload, UploadFile)
        body = _request_of(form, upload, request.app.state.settings.max_upload_bytes)
        stream: BinaryIO = upload.file
        return await run_in_threadpool(actions.create_import, db_of(request), stream, body, actor_id=principal.id)
    finally:
        await form.close()


@router.post("/imports/{import_id}/confirm", status_code=202, response_model=ImportOut, summary="Confirm and run")
def confirm_import(
    request: Request, import_id: str, body: ConfirmIn, principal: Principal = Depends(auth.write)
) -> dict[str, Any]:
    return actions.confirm_import(db_of(request), import_id[:40], body.row_count, actor_id=principal.id)


@router.get("/imports", response_model=ImportPage, summary="Imports, newest first")
def list_imports(
    request: Request,
    after: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    with db_of(request).read() as conn:
        return reading.page(conn, after, limit)


@router.get("/imports/{import_id}", response_model=ImportOut, summary="An import's status, progress and counts")
def get_import(request: Request, import_id: str, _: Principal = Depends(auth.read)) -> dict[str, Any]:
    with db_of(request).read() as conn:
        return reading.view(conn, import_id[:40])


@router.get(
    "/imports/{import_id}/errors",
    response_class=StreamingResponse,
    summary="Every line that was not applied: line,column,value,reason (the header is line 1)",
    responses={200: {"content": {"text/csv": {}}}},
)
def import_errors(request: Request, import_id: str, _: Principal = Depends(auth.read)) -> StreamingResponse:
    body = reading.error_csv(db_of(request), import_id[:40])
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{import_id[:40]}-errors.csv"'},
    )


@router.delete("/imports/{import_id}", response_model=ImportOut, summary="Cancel an unconfirmed import")
def cancel_import(request: Request, import_id: str, _: Principal = Depends(auth.write)) -> dict[str, Any]:
    return actions.cancel_import(db_of(request), import_id[:40])
