"""`/api/v1/decisions`: may we send this message to this address? (R11, R12)"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from assent.api import auth
from assent.api.common import db_of
from assent.api.schemas import DecisionBatchOut, DecisionOut, Id, QueryId, Strict
from assent.domain.addresses import Address, InvalidAddress
from assent.domain.model import Reason
from assent.services.apikeys import Principal
from assent.services.decisions import decide_many
from assent.services.errors import Collected
from assent.services.state import load_account, load_type

router = APIRouter(tags=["decisions"])

MAX_BATCH = 10_000


def _decision(address: str, channel: str, type_id: int, reasons: tuple[Reason, ...]) -> dict[str, Any]:
    return {
        "address": address,
        "channel": channel,
        "subscription_type_id": type_id,
        "allowed": not reasons,
        "reasons": list(reasons),
    }


@router.get("/decisions", response_model=DecisionOut, summary="One address, one type")
def decision(
    request: Request,
    address: Annotated[str, Query(max_length=320)],
    subscription_type_id: QueryId,
    channel: Annotated[str | None, Query(description="Optional: checked against the type's channel")] = None,
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    with db_of(request).read() as conn:
        account = load_account(conn)
        type_ = load_type(conn, subscription_type_id)
        if channel is not None and channel != type_.channel.value:
            problems = Collected()
            problems.add("channel", f"subscription type {type_.id} is a {type_.channel.value} type", "WRONG_CHANNEL")
            problems.raise_if_any()
        normalized = account.normalize(type_.channel, address)
        [reasons] = decide_many(conn, account, type_, [normalized])
    return _decision(normalized.display, type_.channel.value, type_.id, reasons)


class BatchIn(Strict):
    subscription_type_id: Id
    addresses: list[Annotated[str, Field(max_length=320)]] = Field(min_length=1)


@router.post("/decisions/batch", response_model=DecisionBatchOut, summary=f"Up to {MAX_BATCH:,} addresses, one type")
def decision_batch(request: Request, body: BatchIn, _: Principal = Depends(auth.read)) -> dict[str, Any]:
    if len(body.addresses) > MAX_BATCH:
        problems = Collected()
        problems.add("addresses", f"at most {MAX_BATCH} addresses per batch; use /audiences/filter", "BATCH_TOO_LARGE")
        problems.raise_if_any()
    with db_of(request).read() as conn:
        account = load_account(conn)
        type_ = load_type(conn, body.subscription_type_id)
        channel = type_.channel.value
        valid: list[Address] = []
        positions: list[int] = []
        results: list[dict[str, Any] | None] = [None] * len(body.addresses)
        for index, raw in enumerate(body.addresses):
            try:
                normalized = account.normalize_raw(type_.channel, raw)
            except InvalidAddress:
                results[index] = _decision(raw, channel, type_.id, (Reason.INVALID_ADDRESS,))
                continue
            valid.append(normalized)
            positions.append(index)
        for index, normalized, reasons in zip(
            positions, valid, decide_many(conn, account, type_, valid), strict=True
        ):
            results[index] = _decision(normalized.display, channel, type_.id, reasons)
    return {"results": results}
