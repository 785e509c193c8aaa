"""`/api/v1/bulk-updates` (R20) and `/api/v1/jobs`: durable jobs, their progress and outcomes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from assent.actions import bulk_updates
from assent.api import auth
from assent.api.common import client_context, db_of
from assent.api.schemas import BulkSource, Explanation, Id, Page, Strict
from assent.domain.model import Channel, Evidence, JobStatus, LegalBasis, Outcome, Status
from assent.jobs import bulk, reports
from assent.jobs.selection import MAX_ROWS, ContactSearch, Selection
from assent.services.apikeys import Principal

router = APIRouter(tags=["bulk updates and jobs"])

class ContactSearchIn(Strict):
    """The filters of `GET /api/v1/contacts`, with the same meaning."""

    q: Annotated[str, Field(max_length=320)] | None = None
    subscription_type_id: Id | None = None
    status: Status | None = None
    business_unit_id: Id | None = None


class BulkUpdateIn(Strict):
    contact_ids: list[Id] | None = Field(None, min_length=1, max_length=MAX_ROWS)
    contact_search: ContactSearchIn | None = None
    addresses: list[str] | None = Field(
        None,
        min_length=1,
        max_length=MAX_ROWS,
        description="Raw addresses; each that is not a valid address is reported as REFUSED(INVALID_ADDRESS).",
    )
    channel: Channel
    operation: Literal["SET_STATUS", "SET_WIDE_OPT_OUT", "REMOVE_WIDE_OPT_OUTS"] = Field(
        "SET_STATUS",
        description="SET_STATUS: `status` for every type in `subscription_type_ids`. SET_WIDE_OPT_OUT / "
        "REMOVE_WIDE_OPT_OUTS: unsubscribe from all of `business_unit_id`, or lift it (only where a "
        "user or an import set it, R8).",
    )
    status: Status | None = None
    subscription_type_ids: list[Id] | None = Field(None, min_length=1, max_length=100)
    business_unit_id: Id | None = None
    legal_basis: LegalBasis | None = None
    legal_basis_explanation: Explanation | None = None
    processing_legal_basis: LegalBasis | None = None
    source: BulkSource = Field(
        "API",
        description="API, MANUAL and BULK act as a user (source BULK); WORKFLOW and IMPORT get their "
        "own, stricter rules (they never resubscribe, R5).",
    )


class Progress(BaseModel):
    done: int
    total: int


class Counts(BaseModel):
    CHANGED: int
    UNCHANGED: int
    REFUSED: int
    by_reason: dict[str, int]


class JobOut(BaseModel):
    id: str
    kind: str
    status: JobStatus
    progress: Progress
    counts: Counts
    params: dict[str, Any]
    created_by: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str | None


class JobPage(Page):
    results: list[JobOut]


@router.post(
    "/bulk-updates",
    status_code=202,
    response_model=JobOut,
    summary="Start a bulk update (R20) as a job",
    description="Give exactly one of `contact_ids`, `contact_search` or `addresses`. Follow the "
    "job at `GET /api/v1/jobs/{id}`; every address's outcome is at `/api/v1/jobs/{id}/outcomes`.",
)
def create_bulk_update(
    request: Request, response: Response, body: BulkUpdateIn, principal: Principal = Depends(auth.write)
) -> dict[str, Any]:
    search = body.contact_search
    update = bulk.BulkUpdate(
        selection=Selection(
            contact_ids=body.contact_ids,
            contact_search=ContactSearch(**search.model_dump()) if search else None,
            addresses=body.addresses,
        ),
        channel=body.channel,
        operation=bulk.Operation(body.operation),
        status=body.status,
        subscription_type_ids=body.subscription_type_ids or (),
        business_unit_id=body.business_unit_id,
        evidence=Evidence(
            legal_basis=body.legal_basis,
            legal_basis_explanation=body.legal_basis_explanation,
            processing_legal_basis=body.processing_legal_basis,
        ),
        source=body.source,
    )
    db = db_of(request)
    job_id = bulk_updates.start_bulk_update(db, update, actor_id=principal.id, context=client_context(request))
    response.headers["Location"] = f"/api/v1/jobs/{job_id}"
    with db.read() as conn:
        return reports.get_job(conn, job_id)


@router.get("/jobs", response_model=JobPage, summary="Jobs, newest first")
def list_jobs(
    request: Request,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    status: JobStatus | None = None,
    kind: Annotated[str, Query(max_length=40)] | None = None,
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    with db_of(request).read() as conn:
        return reports.list_jobs(conn, cursor=cursor, limit=limit, status=status, kind=kind)


@router.get("/jobs/{job_id}", response_model=JobOut, summary="A job's status, progress and outcome counts")
def get_job(request: Request, job_id: str, _: Principal = Depends(auth.read)) -> dict[str, Any]:
    with db_of(request).read() as conn:
        return reports.get_job(conn, job_id)


NDJSON_TYPES = ("application/x-ndjson", "application/ndjson")


@router.get(
    "/jobs/{job_id}/outcomes",
    summary="Every address's outcome, as CSV (default) or NDJSON (Accept: application/x-ndjson)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
def job_outcomes(
    request: Request,
    job_id: str,
    outcome: Outcome | None = None,
    _: Principal = Depends(auth.read),
) -> StreamingResponse:
    db = db_of(request)
    with db.read() as conn:
        reports.get_job(conn, job_id)  # 404 before streaming starts
    rows = reports.outcome_rows(db, job_id, outcome.value if outcome else None)
    accept = request.headers.get("accept", "")
    if any(kind in accept for kind in NDJSON_TYPES):
        return StreamingResponse(reports.as_ndjson(rows), media_type="application/x-ndjson")
    return StreamingResponse(
        reports.as_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{job_id}-outcomes.csv"'},
    )
