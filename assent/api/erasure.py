"""`/api/v1/erasures` (R22) and `/api/v1/exports/…` (CSV, streamed)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from assent.actions import erasure
from assent.api import auth
from assent.api.common import client_context, db_of, parse_cursor
from assent.api.schemas import Id, Strict
from assent.domain.model import Channel
from assent.services import exports
from assent.services.apikeys import Principal
from assent.services.errors import Collected

router = APIRouter(tags=["erasure and exports"])


class ErasureIn(Strict):
    channel: Channel | None = Field(None, description="With `address`. A phone number is erased on SMS and WhatsApp.")
    address: Annotated[str, Field(max_length=320)] | None = None
    contact_id: Id | None = Field(None, description="Instead of an address: the contact and every address it holds.")


class ErasureOut(BaseModel):
    erased_at: dt.datetime
    addresses: int = Field(description="(channel, address) pairs erased")
    contacts_deleted: int
    statuses_deleted: int
    wide_opt_outs_deleted: int
    events_redacted: int
    other_records_cleared: int = Field(description="preference links, bulk-job report rows and local mail")
    erasure_events: int = Field(description="ERASURE events written (none when it was already erased)")


@router.post(
    "/erasures",
    response_model=ErasureOut,
    summary="Erase a person (R22)",
    description="Deletes the contacts holding the address and the address's statuses and opt-outs, "
    "redacts the personal fields of its history, and keeps a keyed hash of it so that later "
    "imports and API calls cannot opt it in again (`ERASED`); the person can still opt in themself. "
    "The answer never repeats the address.",
)
def create_erasure(request: Request, body: ErasureIn, principal: Principal = Depends(auth.admin)) -> dict[str, Any]:
    problems = Collected()
    by_address = body.channel is not None or body.address is not None
    if by_address and body.contact_id is not None:
        problems.add("contact_id", "give either contact_id or channel and address, not both")
    elif not by_address and body.contact_id is None:
        problems.add("address", "give channel and address, or contact_id")
    elif by_address and body.channel is None:
        problems.add("channel", "required with address")
    elif by_address and not body.address:
        problems.add("address", "required with channel")
    problems.raise_if_any()
    erased = erasure.erase(
        db_of(request),
        channel=body.channel,
        raw_address=body.address,
        contact_id=body.contact_id,
        actor_id=principal.id,
        context=client_context(request),
    )
    return erased.as_dict()


def _csv(rows: Any, header: tuple[str, ...], name: str) -> StreamingResponse:
    return StreamingResponse(
        exports.csv_chunks(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/exports/suppressions",
    response_class=StreamingResponse,
    summary="Every opt-out, wide opt-out, bounce, complaint and erasure, as CSV",
    description="Columns: " + ", ".join(exports.SUPPRESSION_COLUMNS) + ". `kind` is UNSUBSCRIBED (one type), "
    "WIDE_OPT_OUT, SPAM_COMPLAINT, UNDELIVERABLE or ERASED (the address column then holds its keyed "
    "hash). Streamed: any size, memory flat.",
    responses={200: {"content": {"text/csv": {}}}},
)
def export_suppressions(request: Request, _: Principal = Depends(auth.read)) -> StreamingResponse:
    return _csv(exports.suppression_rows(db_of(request)), exports.SUPPRESSION_COLUMNS, "suppressions.csv")


@router.get(
    "/exports/history",
    response_class=StreamingResponse,
    summary="The ledger as CSV, oldest first",
    responses={200: {"content": {"text/csv": {}}}},
)
def export_history(
    request: Request,
    after: Annotated[str | None, Query(max_length=20, description="only events with a greater id")] = None,
    _: Principal = Depends(auth.read),
) -> StreamingResponse:
    start = parse_cursor(after, "after") or 0
    return _csv(exports.history_rows(db_of(request), start), exports.HISTORY_COLUMNS, "history.csv")
