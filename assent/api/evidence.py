"""Evidence anyone can check (issue 17): `/api/v1/ledger/checkpoints`, `/ledger/public-key`
and `/events/{id}/receipt`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from assent.api import auth
from assent.api.common import db_of, parse_cursor
from assent.api.schemas import Page
from assent.services import checkpoints, receipts
from assent.services.apikeys import Principal

router = APIRouter(tags=["evidence"])
EventId = Annotated[int, Path(ge=1, le=2**63 - 1)]

SCHEME = (
    "Signed as the README describes: the object without `signature`, as canonical JSON (sorted keys, "
    "separators `,` and `:`, UTF-8), signed with Ed25519; `signature` is base64."
)


class CheckpointOut(BaseModel):
    last_event_id: int
    last_hash: str
    at: str
    signature: str


class CheckpointPage(Page):
    results: list[CheckpointOut]


class PublicKeyOut(BaseModel):
    algorithm: str
    public_key_pem: str


def _signing_key(request: Request) -> str | None:
    configured: str | None = request.app.state.settings.ledger_signing_key
    return configured


@router.get(
    "/ledger/checkpoints",
    response_model=CheckpointPage,
    summary="Signed checkpoints of the ledger's hash chain, newest first",
    description="Each item is exactly the signed object. " + SCHEME,
)
def list_checkpoints(
    request: Request,
    cursor: Annotated[str | None, Query(description="the `next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    with db_of(request).read() as conn:
        items, following = checkpoints.page(conn, parse_cursor(cursor), limit)
    return {"results": items, "next": None if following is None else str(following)}


@router.get(
    "/ledger/public-key",
    response_model=PublicKeyOut,
    summary="The key that checkpoints and consent receipts verify with (no API key needed)",
    description="Public on purpose: a person holding a receipt, or an auditor holding a checkpoint, "
    "can check its signature. " + SCHEME,
)
def public_key(request: Request) -> dict[str, str]:
    with db_of(request).read() as conn:
        return checkpoints.public_key_document(conn, _signing_key(request))


@router.get(
    "/events/{event_id}/receipt",
    summary="A signed consent receipt of one ledger event",
    description="Kantara Consent Receipt v1.1 / ISO/IEC TS 27560 fields where they fit, with Assent's "
    "codes as values; `assent` holds the event as recorded, its hash and the covering checkpoint. " + SCHEME,
)
def receipt(request: Request, event_id: EventId, _: Principal = Depends(auth.read)) -> dict[str, Any]:
    with db_of(request).read() as conn:
        key = checkpoints.private_key(conn, _signing_key(request))
        return receipts.receipt(conn, event_id, key)
