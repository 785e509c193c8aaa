"""Assent's values in HubSpot's response shapes (camelCase, HubSpot's enums and envelopes)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

import pydantic_core
from fastapi.responses import JSONResponse

from assent.actions.hubspot import ItemError, SuccessReason
from assent.domain.model import Channel, Status
from assent.services.hubspot_views import StatusView, TypeView, WideView


class Answer(JSONResponse):
    """JSON written by pydantic-core's encoder (Rust): the same compact UTF-8 text as
    Starlette's, several times faster for a batch answer of 100 addresses × their types."""

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)


METHOD = {Channel.EMAIL: "Email", Channel.SMS: "SMS", Channel.WHATSAPP: "WhatsApp"}


@functools.lru_cache(maxsize=4096)  # a batch names each type's creation time once per address
def iso(moment: dt.datetime) -> str:
    """HubSpot's timestamps: UTC, milliseconds (truncated), `Z`."""
    if moment.utcoffset() != _ZERO:
        moment = moment.astimezone(dt.UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


_ZERO = dt.timedelta(0)


def epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def definition(ty: TypeView, *, translations: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(ty.id),
        "name": ty.name,
        "description": ty.description,
        "purpose": ty.purpose or "",
        "communicationMethod": METHOD[ty.channel],
        "isActive": ty.is_active,
        "isDefault": False,
        "isInternal": False,
        "businessUnitId": ty.business_unit_id,
        "createdAt": iso(ty.created_at),
        "updatedAt": iso(ty.updated_at),
    }
    if translations:
        body["subscriptionTranslations"] = [
            {
                "subscriptionId": ty.id,
                "languageCode": language,
                "name": str(text.get("name") or ty.name),
                "description": str(text.get("description") or ty.description),
                "createdAt": epoch_ms(ty.created_at),
                "updatedAt": epoch_ms(ty.updated_at),
            }
            for language, text in sorted(ty.translations.items())
            if isinstance(text, dict)
        ]
    return body


def v3_status(view: StatusView, wide_units: set[int]) -> dict[str, Any]:
    """v3 `PublicSubscriptionStatus`: SUBSCRIBED only when opted in and no wide opt-out of
    the type's unit stands; the wide opt-out, when there is one, is the source of the status."""
    ty = view.type
    if ty.business_unit_id in wide_units:
        source = "PORTAL_WIDE_STATUS" if ty.business_unit_id == 0 else "BRAND_WIDE_STATUS"
        status = "NOT_SUBSCRIBED"
    else:
        source = "SUBSCRIPTION_STATUS"
        status = "SUBSCRIBED" if view.status is Status.SUBSCRIBED else "NOT_SUBSCRIBED"
    body: dict[str, Any] = {
        "id": str(ty.id),
        "name": ty.name,
        "description": ty.description,
        "status": status,
        "sourceOfStatus": source,
    }
    if ty.business_unit_id != 0:
        body["brandId"] = ty.business_unit_id
    if view.legal_basis:
        body["legalBasis"] = view.legal_basis
    if view.legal_basis_explanation:
        body["legalBasisExplanation"] = view.legal_basis_explanation
    return body


def public_status(view: StatusView, subscriber: str, reason: SuccessReason | None = None) -> dict[str, Any]:
    ty = view.type
    body: dict[str, Any] = {
        "channel": ty.channel.value,
        "status": view.status.value,
        "subscriberIdString": subscriber,
        "subscriptionId": ty.id,
        "subscriptionName": ty.name,
        "businessUnitId": ty.business_unit_id,
        "source": view.source or "Not specified",
        "timestamp": iso(view.updated_at or ty.created_at),
    }
    if view.legal_basis:
        body["legalBasis"] = view.legal_basis
    if view.legal_basis_explanation:
        body["legalBasisExplanation"] = view.legal_basis_explanation
    if reason is not None:
        body["setStatusSuccessReason"] = reason.value
    return body


def wide_status(wide: WideView, channel: Channel, subscriber: str) -> dict[str, Any]:
    return {
        "channel": channel.value,
        "status": Status.UNSUBSCRIBED.value,
        "subscriberIdString": subscriber,
        "businessUnitId": wide.business_unit_id,
        "wideStatusType": "PORTAL_WIDE" if wide.business_unit_id == 0 else "BUSINESS_UNIT_WIDE",
        "timestamp": iso(wide.at),
    }


def item_error(error: ItemError) -> dict[str, Any]:
    """HubSpot's `StandardError`, for one input of a batch."""
    return {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "subCategory": error.code,
        "message": f"{error.subscriber}: {error.message}",
        "context": {"subscriberIdString": [error.subscriber], "index": [str(error.index)]},
        "errors": [{"message": error.message, "in": error.field, "code": error.code}],
        "links": {},
    }


def envelope(
    results: Sequence[dict[str, Any]], started: dt.datetime, errors: Sequence[ItemError] = ()
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": list(results),
        "requestedAt": iso(started),
        "startedAt": iso(started),
        "completedAt": iso(dt.datetime.now(dt.UTC)),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = [item_error(e) for e in errors]
    return body
