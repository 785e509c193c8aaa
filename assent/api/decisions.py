"""`/api/v1/decisions`: may we send this message to this address? (R11, R12)"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from json.encoder import encode_basestring_ascii as json_string
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from assent.api import auth
from assent.api.common import db_of
from assent.api.schemas import DecisionBatchOut, DecisionOut, Id, QueryId, Strict
from assent.domain.addresses import normalize_many
from assent.domain.model import Reason
from assent.services import as_of as past
from assent.services.apikeys import Principal
from assent.services.decisions import (
    Decider,
    Deferrals,
    OneDecision,
    decide_one,
    decide_one_on_loop,
    require_channel,
)
from assent.services.errors import Collected
from assent.services.state import load_decision_basis

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from assent.storage.db import Database

router = APIRouter(tags=["decisions"])

MAX_BATCH = 10_000


@router.get("/decisions", response_model=DecisionOut, summary="One address, one type")
async def decision(
    request: Request,
    address: Annotated[str, Query(max_length=320)],
    subscription_type_id: QueryId,
    channel: Annotated[str | None, Query(description="Optional: checked against the type's channel")] = None,
    as_of: Annotated[dt.datetime | None, Query(description="RFC 3339 time: the answer as it was then")] = None,
    _: Principal = Depends(auth.read),
) -> Response:
    # `fast_decision.FastDecisions` answers the plain requests (no `as_of`) before they reach
    # this route, with `decide_now` and `decision_response` as here.
    db = db_of(request)
    if as_of is None:
        body = await decide_now(db, address, subscription_type_id, channel)
    else:
        body = await run_in_threadpool(_decide_in_transaction, db, address, subscription_type_id, channel, as_of)
    return decision_response(body)


#: the threads PostgreSQL's single decisions wait in: an executor of their own, handed
#: work with `loop.run_in_executor`, costs about a third less CPU per request than the
#: framework's thread pool (anyio's capacity limiter and cancel scopes around each call)
_WAITERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="assent-decisions")


async def decide_now(db: Database, address: str, type_id: int, channel: str | None) -> dict[str, object]:
    """The decision as of now: a sender's hot path, one statement (`decisions.decide_one`),
    no transaction around it."""
    # SQLite answers in this process, in microseconds, without waiting on a network or
    # a lock (WAL readers never wait): no hop to a worker thread, whose cost would be
    # most of the request's.
    if db.is_sqlite:
        return db.read_once(partial(_decide, address=address, type_id=type_id, channel=channel, as_of=None))
    # PostgreSQL: the statement from the event loop, when it can go there and the type's
    # statement is known; the loop serves other requests meanwhile.
    one = await decide_one_on_loop(db, address, type_id, channel)
    if one is not None:
        return _body(one)
    # Else the usual way, from a worker thread, in this request's context (its
    # read-your-writes position: `track_consistency`): replicas, a type's first decision,
    # a changed basis, an error to answer.
    work = partial(_decide, address=address, type_id=type_id, channel=channel, as_of=None)
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_WAITERS, context.run, db.read_once, work)


def decision_response(body: dict[str, object]) -> Response:
    # The shape is DecisionOut, written without validating it again.
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


def _decide_in_transaction(
    db: Database, address: str, type_id: int, channel: str | None, as_of: dt.datetime
) -> dict[str, object]:
    with db.read_replica() as conn:
        return _decide(conn, address, type_id, channel, as_of)


def _decide(
    conn: Connection, address: str, type_id: int, channel: str | None, as_of: dt.datetime | None
) -> dict[str, object]:
    if as_of is None:
        return _body(decide_one(conn, address, type_id, channel))
    # the address's state then, rebuilt from the ledger (services/as_of.py)
    basis = load_decision_basis(conn, type_id)
    type_ = basis.type_
    require_channel(type_, channel)
    normalized = basis.account.normalize(type_.channel, address)
    as_of = past.require_zone(as_of)
    reasons, policy_as_of = past.reasons_as_of(conn, basis.account, type_, normalized, as_of)
    body = _body(OneDecision(normalized, type_, reasons, {}))
    return body | {"as_of": as_of.isoformat(), "policy_as_of": policy_as_of}


def _body(one: OneDecision) -> dict[str, object]:
    body: dict[str, object] = {
        "address": one.address.display,
        "channel": one.type_.channel.value,
        "subscription_type_id": one.type_.id,
        "allowed": not one.reasons,
        "reasons": [reason.value for reason in one.reasons],
    }
    if one.deferred:
        body["defer_until"] = _instant(one.deferred[0])
    return body


def _instant(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class BatchIn(Strict):
    subscription_type_id: Id
    addresses: list[Annotated[str, Field(max_length=320)]] = Field(min_length=1)


@router.post("/decisions/batch", response_model=DecisionBatchOut, summary=f"Up to {MAX_BATCH:,} addresses, one type")
def decision_batch(request: Request, body: BatchIn, _: Principal = Depends(auth.read)) -> Response:
    if len(body.addresses) > MAX_BATCH:
        problems = Collected()
        problems.add("addresses", f"at most {MAX_BATCH} addresses per batch; use /audiences/filter", "BATCH_TOO_LARGE")
        problems.raise_if_any()
    with db_of(request).read_replica() as conn:
        basis = load_decision_basis(conn, body.subscription_type_id)
        account, type_ = basis.account, basis.type_
        keys, displays = normalize_many(type_.channel, body.addresses, account.default_phone_region)
        decider = Decider(conn, account, type_, quiet=basis.quiet)
        deferred: Deferrals = {}
        exceptions = decider.exceptions(keys, deferred)
    # Ten thousand results: written straight to JSON (the shape is DecisionBatchOut, which
    # the OpenAPI schema shows), not built as dicts and validated again on the way out.
    head = f'"channel":"{type_.channel.value}","subscription_type_id":{type_.id},'
    rendered: dict[tuple[Reason, ...], str] = {}

    def verdict(reasons: tuple[Reason, ...]) -> str:
        if reasons not in rendered:
            codes = ",".join(f'"{reason.value}"' for reason in reasons)
            rendered[reasons] = f'"allowed":{"false" if reasons else "true"},"reasons":[{codes}]}}'
        return rendered[reasons]

    invalid, default = verdict((Reason.INVALID_ADDRESS,)), verdict(decider.default)
    parts = [
        f'{{"address":{json_string(display)},{head}'
        + (invalid if key is None else verdict(exceptions[index]) if index in exceptions else default)
        for index, (key, display) in enumerate(zip(keys, displays, strict=True))
    ]
    for index, until in deferred.items():  # quiet hours (R28): the same, with when to send
        until_json = "null" if until is None else f'"{_instant(until)}"'
        parts[index] = parts[index][:-1] + f',"defer_until":{until_json}}}'
    return Response(f'{{"results":[{",".join(parts)}]}}', media_type="application/json")
