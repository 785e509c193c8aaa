"""HubSpot's v4 subscription API (`…/176901/v4/subscriptions.json`), served unchanged under
HubSpot's date-versioned releases of it (2025-09, 2026-03, 2026-09).

Writes resubscribe on the rules' conditions and say so (`RESUBSCRIBE_OCCURRED`). Without
`businessUnitId`, reads and unsubscribe-all are about HubSpot's default unit, 0. Beyond
HubSpot, `channel` may be SMS or WHATSAPP, with E.164 numbers as `subscriberIdString`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import Connection

from assent.actions import hubspot as actions
from assent.domain.addresses import Address, InvalidAddress, normalize
from assent.domain.model import Channel
from assent.hubspot import auth, shapes
from assent.hubspot.schemas import (
    MAX_ID,
    BatchInputPublicStatusRequest,
    BatchInputString,
    LinkGenerationRequest,
    PartialPublicStatusRequest,
)
from assent.services import hubspot_views as views
from assent.services.apikeys import Principal
from assent.services.errors import Invalid, Problem
from assent.services.state import load_account

router = APIRouter(tags=["v4"])

ChannelQuery = Annotated[Channel, Query(description="EMAIL (HubSpot's only channel), SMS or WHATSAPP")]
UnitQuery = Annotated[int | None, Query(ge=0, le=MAX_ID, description="Default: 0, HubSpot's default unit")]
Verbose = Annotated[bool, Query()]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _no_unit(unit: int) -> Problem:
    return actions.invalid("businessUnitId", f"business unit {unit} does not exist", "UNKNOWN_BUSINESS_UNIT")


def _unit(conn: Connection, business_unit_id: int | None) -> int:
    unit = business_unit_id or 0
    if not views.business_unit_exists(conn, unit):
        raise _no_unit(unit)
    return unit


def _address(channel: Channel, raw: str, region: str | None) -> Address:
    """One address, or a 422 naming `subscriberIdString` (R1)."""
    try:
        return normalize(channel, raw, region)
    except InvalidAddress as error:
        raise Invalid("subscriberIdString", error.reason, "INVALID_ADDRESS") from None


def _answer(body: dict[str, Any]) -> JSONResponse:
    """200, or HubSpot's 207 Multi-Status when some inputs failed."""
    return shapes.Answer(body, status_code=207 if body.get("numErrors") else 200)


@router.get("/definitions", summary="Subscription types")
def get_definitions(
    request: Request,
    businessUnitId: UnitQuery = None,  # noqa: N803  (HubSpot's names)
    includeTranslations: bool = False,  # noqa: N803
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    started = _now()
    with auth.db_of(request).read() as conn:
        found = views.types(conn, business_unit_id=businessUnitId)
    return shapes.envelope([shapes.definition(ty, translations=includeTranslations) for ty in found], started)


def _read_many(channel: Channel, raw: list[str], region: str | None) -> tuple[list[Address], list[actions.ItemError]]:
    addresses: dict[str, Address] = {}
    errors = []
    for index, text in enumerate(raw):
        try:
            address = normalize(channel, text, region)
        except InvalidAddress as error:
            errors.append(actions.ItemError(index, text, "INVALID_ADDRESS", error.reason, "inputs"))
            continue
        addresses.setdefault(address.key, address)
    return list(addresses.values()), errors


@router.post("/statuses/batch/read", summary="Statuses of many addresses (HubSpot's batch size is 100)")
def batch_read(
    request: Request,
    body: BatchInputString,
    channel: ChannelQuery,
    businessUnitId: UnitQuery = None,  # noqa: N803
    _: Principal = Depends(auth.read),
) -> Response:
    started = _now()

    def read(conn: Connection) -> tuple[list[Address], list[actions.ItemError], dict[str, list[views.StatusView]]]:
        unit = views.unit_types(conn, channel, businessUnitId or 0)
        if not unit.exists:
            raise _no_unit(businessUnitId or 0)
        addresses, errors = _read_many(channel, body.inputs, unit.default_phone_region)
        return addresses, errors, views.statuses(conn, channel, [a.key for a in addresses], unit.types)

    # Two statements, each its own snapshot (as in a READ COMMITTED transaction), on the
    # primary: no transaction, no ping (a round trip each on PostgreSQL).
    addresses, errors, found = auth.db_of(request).read_once(read, replicas=False)
    # written straight to JSON: the shapes of `shapes.public_status` and `shapes.envelope`
    status_json = shapes.StatusWriter()
    results = []
    for a in addresses:
        subscriber = shapes.subscriber_json(a.display)
        statuses = ",".join(status_json(v, subscriber) for v in found[a.key])
        results.append(f'{{"subscriberIdString":{subscriber},"statuses":[{statuses}]}}')
    return shapes.envelope_answer(results, started, errors)


@router.post("/statuses/batch/write", summary="Change statuses of many addresses (each input its own legal basis)")
def batch_write(
    request: Request, body: BatchInputPublicStatusRequest, principal: Principal = Depends(auth.write)
) -> Response:
    started = _now()
    done = actions.set_statuses_batch(
        auth.db_of(request),
        actor=auth.actor(principal),
        context=auth.context(request),
        inputs=[
            actions.WriteInput(
                i.subscriber_id_string,
                i.channel,
                i.subscription_id,
                i.status_state,
                i.legal_basis,
                i.legal_basis_explanation,
            )
            for i in body.inputs
        ],
    )
    status_json = shapes.StatusWriter()  # straight to JSON, the shape of `shapes.public_status`
    results = [status_json(r.view, shapes.subscriber_json(r.address.display), r.reason) for r in done.results]
    return shapes.envelope_answer(results, started, done.errors)


@router.post("/statuses/batch/unsubscribe-all", summary="Unsubscribe many addresses from all (R8)")
def batch_unsubscribe_all(
    request: Request,
    body: BatchInputString,
    channel: ChannelQuery,
    businessUnitId: UnitQuery = None,  # noqa: N803
    verbose: Verbose = False,
    principal: Principal = Depends(auth.write),
) -> JSONResponse:
    started = _now()
    done = _unsubscribe_all(request, principal, channel, body.inputs, businessUnitId, verbose)
    results = []
    for r in done.results:
        item: dict[str, Any] = {"subscriberIdString": r.address.display}
        if verbose:
            item["statuses"] = [shapes.public_status(v, r.address.display, _wide_reason(r)) for v in r.statuses]
        results.append(item)
    return _answer(shapes.envelope(results, started, done.errors))


@router.post("/statuses/batch/unsubscribe-all/read", summary="Which of many addresses are unsubscribed from all")
def batch_unsubscribe_all_read(
    request: Request,
    body: BatchInputString,
    channel: ChannelQuery,
    businessUnitId: UnitQuery = None,  # noqa: N803
    _: Principal = Depends(auth.read),
) -> JSONResponse:
    started = _now()
    with auth.db_of(request).read() as conn:
        account = load_account(conn)
        unit = _unit(conn, businessUnitId)
        addresses, errors = _read_many(channel, body.inputs, account.default_phone_region)
        found = views.wide_opt_outs(conn, channel, [a.key for a in addresses], unit)
    results = [
        {
            "subscriberIdString": a.display,
            "wideStatuses": [shapes.wide_status(w, channel, a.display) for w in found[a.key]],
        }
        for a in addresses
    ]
    return _answer(shapes.envelope(results, started, errors))


@router.get("/statuses/{subscriberIdString}", summary="An address's status for every type of a unit")
def get_statuses(
    request: Request,
    subscriberIdString: str,  # noqa: N803
    channel: ChannelQuery,
    businessUnitId: UnitQuery = None,  # noqa: N803
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    started = _now()
    with auth.db_of(request).read() as conn:
        unit = views.unit_types(conn, channel, businessUnitId or 0)
        address = _address(channel, subscriberIdString, unit.default_phone_region)
        if not unit.exists:
            raise _no_unit(businessUnitId or 0)
        found = views.statuses(conn, channel, [address.key], unit.types)[address.key]
    return shapes.envelope([shapes.public_status(v, address.display) for v in found], started)


@router.post("/statuses/{subscriberIdString}", summary="Change one status (resubscribes on the rules' terms)")
def post_status(
    request: Request,
    subscriberIdString: str,  # noqa: N803
    body: PartialPublicStatusRequest,
    principal: Principal = Depends(auth.write),
) -> dict[str, Any]:
    started = _now()
    done = actions.set_status(
        auth.db_of(request),
        actor=auth.actor(principal),
        context=auth.context(request),
        channel=body.channel,
        raw_address=subscriberIdString,
        subscription_id=body.subscription_id,
        target=body.status_state,
        legal_basis=body.legal_basis,
        explanation=body.legal_basis_explanation,
        allow_resubscribe=True,
    )
    return shapes.envelope([shapes.public_status(done.view, done.address.display, done.reason)], started)


@router.get("/statuses/{subscriberIdString}/unsubscribe-all", summary="Whether an address is unsubscribed from all")
def get_unsubscribe_all(
    request: Request,
    subscriberIdString: str,  # noqa: N803
    channel: ChannelQuery,
    businessUnitId: UnitQuery = None,  # noqa: N803
    verbose: Verbose = False,
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    """Empty `results` when the address is not unsubscribed from all, as HubSpot answers."""
    started = _now()
    with auth.db_of(request).read() as conn:
        account = load_account(conn)
        address = account.normalize(channel, subscriberIdString, "subscriberIdString")
        unit = _unit(conn, businessUnitId)
        found = views.wide_opt_outs(conn, channel, [address.key], unit)[address.key]
    return shapes.envelope([shapes.wide_status(w, channel, address.display) for w in found], started)


@router.post("/statuses/{subscriberIdString}/unsubscribe-all", summary="Unsubscribe an address from all (R8)")
def post_unsubscribe_all(
    request: Request,
    subscriberIdString: str,  # noqa: N803
    channel: ChannelQuery,
    businessUnitId: UnitQuery = None,  # noqa: N803
    verbose: Verbose = False,
    principal: Principal = Depends(auth.write),
) -> dict[str, Any]:
    """`results` is empty unless `verbose=true`, as HubSpot answers."""
    started = _now()
    done = _unsubscribe_all(request, principal, channel, [subscriberIdString], businessUnitId, verbose)
    if done.errors:
        error = done.errors[0]
        raise actions.invalid("subscriberIdString", error.message, error.code)
    [result] = done.results
    statuses = [shapes.public_status(v, result.address.display, _wide_reason(result)) for v in result.statuses]
    return shapes.envelope(statuses if verbose else [], started)


def _unsubscribe_all(
    request: Request, principal: Principal, channel: Channel, raw: list[str], unit: int | None, verbose: bool
) -> actions.WideBatchOutcome:
    return actions.unsubscribe_all(
        auth.db_of(request),
        actor=auth.actor(principal),
        context=auth.context(request),
        channel=channel,
        raw_addresses=raw,
        business_unit_id=unit or 0,
        with_statuses=verbose,
    )


def _wide_reason(result: actions.WideOutcome) -> actions.SuccessReason:
    if result.changed:
        return actions.SuccessReason.UNSUBSCRIBE_FROM_ALL_OCCURRED
    return actions.SuccessReason.NO_STATUS_CHANGE


@router.post("/links/generate", summary="Preference-center and unsubscribe links for an address")
def generate_links(
    request: Request,
    body: LinkGenerationRequest,
    channel: ChannelQuery,
    businessUnitId: UnitQuery = 0,  # noqa: N803
    _: Principal = Depends(auth.write),
) -> dict[str, Any]:
    done = actions.generate_links(
        auth.db_of(request),
        request.app.state.settings,
        channel=channel,
        raw_address=body.subscriber_id_string,
        business_unit_id=businessUnitId or 0,
        language=body.language,
        subscription_id=body.subscription_id,
    )
    answer = {
        "subscriberIdString": done.address.display,
        "managePreferencesUrl": done.preferences_url,
        "unsubscribeAllUrl": done.unsubscribe_all_url,
    }
    if done.unsubscribe_url:
        answer["unsubscribeSingleUrl"] = done.unsubscribe_url
    return answer
