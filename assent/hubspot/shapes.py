"""Assent's values in HubSpot's response shapes (camelCase, HubSpot's enums and envelopes)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

import pydantic_core
from fastapi.responses import JSONResponse, Response

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


@functools.lru_cache(maxsize=1024)  # names, sources, legal bases and explanations repeat
def _text(value: str) -> str:
    """A JSON string, escaped exactly as `Answer` writes it (pydantic-core)."""
    return pydantic_core.to_json(value).decode()


def subscriber_json(subscriber: str) -> str:
    """The JSON string of a subscriber, for `StatusWriter`."""
    return pydantic_core.to_json(subscriber).decode()


def _status_halves(view: StatusView, reason: SuccessReason | None) -> tuple[str, str]:
    """The JSON text of `public_status(view, …, reason)` before and after its subscriber."""
    ty = view.type
    after = [
        f',"subscriptionId":{ty.id},"subscriptionName":{_text(ty.name)},"businessUnitId":{ty.business_unit_id}',
        f',"source":{_text(view.source or "Not specified")},"timestamp":"{iso(view.updated_at or ty.created_at)}"',
    ]
    if view.legal_basis:
        after.append(f',"legalBasis":{_text(view.legal_basis)}')
    if view.legal_basis_explanation:
        after.append(f',"legalBasisExplanation":{_text(view.legal_basis_explanation)}')
    if reason is not None:
        after.append(f',"setStatusSuccessReason":"{reason.value}"')
    after.append("}")
    before = f'{{"channel":"{ty.channel.value}","status":"{view.status.value}","subscriberIdString":'
    return before, "".join(after)


class StatusWriter:
    """`public_status` written straight to JSON text, the same bytes `Answer` makes of it: a
    batch answers hundreds (100 addresses × their types), most of them the same but for the
    subscriber (a type's NOT_SPECIFIED, one view shared by every address without a status),
    which this writes once per view."""

    def __init__(self) -> None:
        self._halves: dict[int, tuple[StatusView, SuccessReason | None, tuple[str, str]]] = {}

    def __call__(self, view: StatusView, subscriber: str, reason: SuccessReason | None = None) -> str:
        """`subscriber` is already JSON (`subscriber_json`)."""
        found = self._halves.get(id(view))
        if found is None or found[0] is not view or found[1] is not reason:
            found = self._halves[id(view)] = (view, reason, _status_halves(view, reason))
        before, after = found[2]
        return before + subscriber + after


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


def envelope_answer(results: Sequence[str], started: dt.datetime, errors: Sequence[ItemError] = ()) -> Response:
    """`envelope` of results already written as JSON text, as `Answer` writes it: 200, or
    HubSpot's 207 Multi-Status when some inputs failed."""
    body = (
        f'{{"status":"COMPLETE","results":[{",".join(results)}],"requestedAt":"{iso(started)}",'
        f'"startedAt":"{iso(started)}","completedAt":"{iso(dt.datetime.now(dt.UTC))}"'
    )
    if errors:
        listed = pydantic_core.to_json([item_error(e) for e in errors]).decode()
        body += f',"numErrors":{len(errors)},"errors":{listed}'
    return Response(body + "}", status_code=207 if errors else 200, media_type="application/json")


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
