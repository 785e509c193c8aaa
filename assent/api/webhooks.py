"""`/api/v1/webhooks`: outbound webhook endpoints and their delivery log (SPEC R25).

Admin scope. Deliveries follow Standard Webhooks: each POST carries `webhook-id` (the ledger
event id, the same on every retry), `webhook-timestamp` and `webhook-signature`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from assent.actions import webhooks as actions
from assent.api import auth
from assent.api.common import db_of, parse_cursor
from assent.api.schemas import Page, Strict
from assent.config import Settings
from assent.domain.webhooks import ALL, SUBSCRIBABLE
from assent.services import webhooks as service
from assent.services.apikeys import Principal
from assent.services.errors import Invalid

router = APIRouter(tags=["webhooks"])

EndpointId = Annotated[str, Path(max_length=40, pattern=r"^wh_[0-9a-f]+$")]
EventTypes = Annotated[
    list[Annotated[str, Field(max_length=64)]],
    Field(
        min_length=1,
        max_length=len(SUBSCRIBABLE),
        description=f'`["{ALL}"]` for every event, or some of: ' + ", ".join(t.value for t in SUBSCRIBABLE),
    ),
]
Url = Annotated[str, Field(max_length=service.MAX_URL, description="http:// or https://; redirects are not followed")]
Description = Annotated[str, Field(max_length=500)]


class WebhookIn(Strict):
    url: Url
    event_types: EventTypes = Field(default_factory=lambda: [ALL])
    description: Description | None = None


class WebhookPatch(Strict):
    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None


class WebhookOut(BaseModel):
    id: str
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    disabled_at: dt.datetime | None
    failing_since: dt.datetime | None
    secret_rotated_at: dt.datetime | None
    previous_secret_until: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="`whsec_…`: shown in this answer only; verify signatures with it")


class WebhookList(BaseModel):
    results: list[WebhookOut]


class TestEventOut(BaseModel):
    webhook_id: str
    delivered: bool
    status_code: int | None
    error: str | None
    duration_ms: int


class AttemptOut(BaseModel):
    event_id: int | None = Field(description="the ledger event (the webhook-id); null for a test event")
    attempt: int
    outcome: str = Field(description="DELIVERED, RETRY (another attempt at next_attempt_at), GAVE_UP or TEST")
    status_code: int | None
    error: str | None
    response_body: str | None
    duration_ms: int
    at: dt.datetime
    next_attempt_at: dt.datetime | None


class AttemptPage(Page):
    results: list[AttemptOut]


class DeliveryOut(BaseModel):
    event_id: int
    state: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post("/webhooks", status_code=201, response_model=WebhookWithSecret, summary="Add a webhook endpoint")
def create(request: Request, body: WebhookIn, _: Principal = Depends(auth.admin)) -> dict[str, Any]:
    return actions.create_webhook(db_of(request), _settings(request), body.url, body.event_types, body.description)


@router.get("/webhooks", response_model=WebhookList)
def list_all(request: Request, _: Principal = Depends(auth.admin)) -> dict[str, Any]:
    with db_of(request).read() as conn:
        return {"results": service.list_endpoints(conn)}


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
def get(request: Request, webhook_id: EndpointId, _: Principal = Depends(auth.admin)) -> dict[str, Any]:
    with db_of(request).read() as conn:
        return service.get_endpoint(conn, webhook_id)


@router.patch("/webhooks/{webhook_id}", response_model=WebhookOut, summary="Change URL, event types; disable, enable")
def patch(
    request: Request, webhook_id: EndpointId, body: WebhookPatch, _: Principal = Depends(auth.admin)
) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True)
    for name in ("url", "event_types", "enabled"):
        if name in given and given[name] is None:
            raise Invalid(name, "may not be null")
    changes = actions.EndpointChanges(**given, fields=frozenset(given))
    return actions.update_webhook(db_of(request), _settings(request), webhook_id, changes)


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response)
def delete(request: Request, webhook_id: EndpointId, _: Principal = Depends(auth.admin)) -> Response:
    actions.delete_webhook(db_of(request), webhook_id)
    return Response(status_code=204)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    response_model=WebhookWithSecret,
    summary="A new secret; the old one keeps signing beside it for 24 hours",
)
def rotate(request: Request, webhook_id: EndpointId, _: Principal = Depends(auth.admin)) -> dict[str, Any]:
    return actions.rotate_webhook_secret(db_of(request), webhook_id)


@router.post("/webhooks/{webhook_id}/test", response_model=TestEventOut, summary="Send a signed webhook.test event now")
def send_test(request: Request, webhook_id: EndpointId, _: Principal = Depends(auth.admin)) -> dict[str, Any]:
    return actions.send_test_event(db_of(request), _settings(request), webhook_id)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=AttemptPage,
    summary="The delivery log: every attempt, newest first",
)
def deliveries(
    request: Request,
    webhook_id: EndpointId,
    cursor: Annotated[str | None, Query(description="the `next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    event_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    _: Principal = Depends(auth.admin),
) -> dict[str, Any]:
    with db_of(request).read() as conn:
        return service.attempts_page(conn, webhook_id, parse_cursor(cursor), limit, event_id)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{event_id}/retry",
    status_code=202,
    response_model=DeliveryOut,
    summary="Deliver one event again (same webhook-id), with a new retry window",
)
def retry(
    request: Request,
    webhook_id: EndpointId,
    event_id: Annotated[int, Path(ge=1, le=2**62)],
    _: Principal = Depends(auth.admin),
) -> dict[str, Any]:
    return actions.retry_delivery(db_of(request), webhook_id, event_id)
