"""HubSpot's v3 subscription API (`…/147906/v3/subscriptions.json`), email only.

`subscribe` never resubscribes, as HubSpot's v3 does: an address that opted out of the type
gets HubSpot's 400 and stays opted out. `resubscribe` (HubSpot's 2025-09 release) does, on
the same rules as v4 (R5: with an explanation).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from assent.actions import hubspot as actions
from assent.domain.model import Channel, Status
from assent.hubspot import auth, shapes
from assent.hubspot.schemas import UpdateSubscriptionStatusRequest
from assent.services import hubspot_views as views
from assent.services.apikeys import Principal
from assent.services.state import load_account

definitions_router = APIRouter(tags=["v3"])
router = APIRouter(tags=["v3"])


@definitions_router.get("/definitions", summary="Every email subscription type (v3 shape)")
def get_definitions(request: Request, _: Principal = Depends(auth.read)) -> dict[str, Any]:
    with auth.db_of(request).read() as conn:
        found = views.types(conn, channel=Channel.EMAIL)
    return {"subscriptionDefinitions": [shapes.definition(ty) for ty in found]}


@router.get("/status/email/{emailAddress}", summary="An address's status for every email subscription type")
def get_email_status(request: Request, emailAddress: str, _: Principal = Depends(auth.read)) -> dict[str, Any]:  # noqa: N803  (HubSpot's name)
    with auth.db_of(request).read() as conn:
        account = load_account(conn)
        address = account.normalize(Channel.EMAIL, emailAddress, "emailAddress")
        of_types = views.types(conn, channel=Channel.EMAIL, include_inactive=False)
        found = views.statuses(conn, Channel.EMAIL, [address.key], of_types)[address.key]
        wide = {w.business_unit_id for w in views.wide_opt_outs(conn, Channel.EMAIL, [address.key])[address.key]}
    return {"recipient": address.display, "subscriptionStatuses": [shapes.v3_status(v, wide) for v in found]}


def _change(
    request: Request, body: UpdateSubscriptionStatusRequest, principal: Principal, target: Status, resubscribe: bool
) -> dict[str, Any]:
    done = actions.set_status(
        auth.db_of(request),
        actor=auth.actor(principal),
        context=auth.context(request),
        channel=Channel.EMAIL,
        raw_address=body.email_address,
        subscription_id=int(body.subscription_id),
        target=target,
        legal_basis=body.legal_basis,
        explanation=body.legal_basis_explanation,
        allow_resubscribe=resubscribe,
        address_field="emailAddress",
    )
    return shapes.v3_status(done.view, set(done.wide_units))


@router.post("/subscribe", summary="Subscribe an address to a type (never a resubscribe)")
def subscribe(
    request: Request, body: UpdateSubscriptionStatusRequest, principal: Principal = Depends(auth.write)
) -> dict[str, Any]:
    return _change(request, body, principal, Status.SUBSCRIBED, resubscribe=False)


@router.post("/unsubscribe", summary="Unsubscribe an address from a type (always allowed, R4)")
def unsubscribe(
    request: Request, body: UpdateSubscriptionStatusRequest, principal: Principal = Depends(auth.write)
) -> dict[str, Any]:
    return _change(request, body, principal, Status.UNSUBSCRIBED, resubscribe=True)


resubscribe_router = APIRouter(tags=["2025-09"])


@resubscribe_router.post("/resubscribe", summary="Subscribe an address again, with an explanation (R5)")
def resubscribe(
    request: Request, body: UpdateSubscriptionStatusRequest, principal: Principal = Depends(auth.write)
) -> dict[str, Any]:
    return _change(request, body, principal, Status.SUBSCRIBED, resubscribe=True)
