"""`/api/v1/subscribers/{channel}/{address}`: one address's statuses, wide opt-outs, history."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request

from assent.actions import subscriptions
from assent.api import auth
from assent.api.common import actor_for, client_context, db_of
from assent.api.schemas import (
    MAX_BATCH_ADDRESSES,
    EventPage,
    EvidenceIn,
    ExplanationIn,
    QueryId,
    StatusBatchIn,
    StatusBatchOut,
    StatusChangesIn,
    StatusChangesOut,
    SubscriberOut,
    WideChangeOut,
)
from assent.domain.model import Channel, Evidence, Outcome, Source
from assent.services import as_of as past
from assent.services import events as ledger_reads
from assent.services import subscribers
from assent.services.apikeys import Principal
from assent.services.errors import Invalid
from assent.services.evidence import parse_evidence
from assent.services.state import load_account

router = APIRouter(prefix="/subscribers/{channel}/{address}", tags=["subscribers"])
AS_OF = "RFC 3339 time: the state as it was then, rebuilt from the ledger (today's types and policy)"
batch_router = APIRouter(tags=["subscribers"])


@batch_router.post(
    "/statuses/batch",
    response_model=StatusBatchOut,
    summary=f"Change statuses of up to {MAX_BATCH_ADDRESSES:,} addresses in one transaction",
    description="Every change is judged by the same rules as one address's (R3–R10); refusals, "
    "missing evidence included, are reported per change, and an invalid address per item, "
    "without failing the rest. Unknown or wrong-channel types are a 422 and nothing is written.",
)
def change_statuses_batch(
    request: Request, body: StatusBatchIn, principal: Principal = Depends(auth.write)
) -> dict[str, Any]:
    if body.source == "FORM":
        raise Invalid("source", "a form submission is one person's act: send it alone, or use /form-submissions")
    results = subscriptions.change_statuses_batch(
        db_of(request),
        channel=body.channel,
        items=[
            subscriptions.BatchItem(
                item.address, [subscriptions.RequestedChange(c.subscription_type_id, c.status) for c in item.changes]
            )
            for item in body.items
        ],
        actor=actor_for(principal, body.source),
        evidence=_evidence(body),
        context=client_context(request),
    )
    return {
        "channel": body.channel.value,
        "results": [
            {"address": r.address, "results": [c.as_dict() for c in r.results]}
            if r.results is not None
            else {"address": r.address, "error": {"code": "INVALID_ADDRESS", "reason": r.error or ""}}
            for r in results
        ],
    }


def _evidence(body: EvidenceIn) -> Evidence:
    return parse_evidence(body.model_dump())


@router.get("", response_model=SubscriberOut, summary="Every type's status, wide opt-outs, delivery state")
def get_subscriber(
    request: Request,
    channel: Channel,
    address: str,
    as_of: Annotated[dt.datetime | None, Query(description=AS_OF)] = None,
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    with db_of(request).read() as conn:
        account = load_account(conn)
        if as_of is not None:  # rebuilt from the ledger (services/as_of.py)
            return past.subscriber_as_of(conn, account, account.normalize(channel, address), past.require_zone(as_of))
        return subscribers.subscriber_view(conn, account, account.normalize(channel, address))


@router.post("/statuses", response_model=StatusChangesOut, summary="Change statuses (R3–R10)")
def change_statuses(
    request: Request,
    channel: Channel,
    address: str,
    body: StatusChangesIn,
    principal: Principal = Depends(auth.write),
) -> dict[str, Any]:
    change = subscriptions.change_statuses(
        db_of(request),
        channel=channel,
        raw_address=address,
        changes=[subscriptions.RequestedChange(c.subscription_type_id, c.status) for c in body.changes],
        actor=actor_for(principal, body.source),
        evidence=_evidence(body),
        context=client_context(request),
    )
    return {
        "address": change.address.display,
        "channel": channel.value,
        "results": [r.as_dict() for r in change.results],
    }


def _wide(
    request: Request,
    channel: Channel,
    address: str,
    business_unit_id: int,
    body: EvidenceIn | None,
    principal: Principal,
    remove: bool,
) -> dict[str, Any]:
    body = body or EvidenceIn()
    action = subscriptions.lift_unsubscribe_all if remove else subscriptions.set_unsubscribe_all
    normalized, result = action(
        db_of(request),
        channel=channel,
        raw_address=address,
        business_unit_id=business_unit_id,
        actor=actor_for(principal, body.source),
        evidence=_evidence(body),
        context=client_context(request),
    )
    return {
        "address": normalized.display,
        "channel": channel.value,
        "business_unit_id": business_unit_id,
        "outcome": result.outcome,
        "reason": result.reason,
        "unsubscribed_from_all": result.opted_out,
    }


@router.put("/unsubscribe-all", response_model=WideChangeOut, summary="Unsubscribe from all (R8)")
def put_unsubscribe_all(
    request: Request,
    channel: Channel,
    address: str,
    business_unit_id: QueryId = 0,
    body: Annotated[EvidenceIn | None, Body()] = None,
    principal: Principal = Depends(auth.write),
) -> dict[str, Any]:
    return _wide(request, channel, address, business_unit_id, body, principal, remove=False)


@router.delete(
    "/unsubscribe-all",
    response_model=WideChangeOut,
    summary="Remove an unsubscribe-from-all (R8: only one a user or an import set)",
)
def delete_unsubscribe_all(
    request: Request,
    channel: Channel,
    address: str,
    business_unit_id: QueryId = 0,
    body: Annotated[EvidenceIn | None, Body()] = None,
    principal: Principal = Depends(auth.write),
) -> dict[str, Any]:
    return _wide(request, channel, address, business_unit_id, body, principal, remove=True)


@router.get("/history", response_model=EventPage, summary="The ledger for this address, newest first")
def history(
    request: Request,
    channel: Channel,
    address: str,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    with db_of(request).read_replica() as conn:
        account = load_account(conn)
        normalized = account.normalize(channel, address)
        hashes = [account.address_hash(channel, normalized.key)]
        return ledger_reads.history_page(conn, hashes, cursor, limit)


@router.put("/undeliverable", summary="Mark undeliverable (a hard bounce your ESP reported)")
def put_undeliverable(
    request: Request,
    channel: Channel,
    address: str,
    body: ExplanationIn,
    principal: Principal = Depends(auth.write),
) -> dict[str, Any]:
    return _delivery(request, channel, address, body, principal, undeliverable=True)


@router.delete("/undeliverable", summary="Clear undeliverable, with an explanation (R11)")
def delete_undeliverable(
    request: Request,
    channel: Channel,
    address: str,
    body: ExplanationIn,
    principal: Principal = Depends(auth.write),
) -> dict[str, Any]:
    return _delivery(request, channel, address, body, principal, undeliverable=False)


def _delivery(
    request: Request, channel: Channel, address: str, body: ExplanationIn, principal: Principal, undeliverable: bool
) -> dict[str, Any]:
    context = client_context(request)
    reason = body.legal_basis_explanation
    if undeliverable:
        normalized, outcome = subscriptions.mark_undeliverable(
            db_of(request), channel=channel, raw_address=address, actor_id=principal.id, reason=reason, context=context
        )
    else:
        normalized, outcome = subscriptions.clear_undeliverable(
            db_of(request),
            channel=channel,
            raw_address=address,
            actor=actor_for(principal, Source.API),
            reason=reason,
            context=context,
        )
    return {"address": normalized.display, "channel": channel.value, "undeliverable": undeliverable, "outcome": outcome}


@router.post("/confirmation", summary="Mark the address confirmed (double opt-in, by a user)")
def confirm(
    request: Request, channel: Channel, address: str, principal: Principal = Depends(auth.write)
) -> dict[str, Any]:
    normalized, outcome = subscriptions.mark_confirmed(
        db_of(request),
        channel=channel,
        raw_address=address,
        actor=actor_for(principal, Source.API),
        context=client_context(request),
    )
    return {"address": normalized.display, "channel": channel.value, "confirmed": True, "outcome": Outcome(outcome)}
