"""Webhook endpoints (SPEC R25): create, change, enable/disable, delete, rotate the secret,
send a test event, deliver an event again. Each action is one write transaction."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from assent.config import Settings
from assent.domain.webhooks import AttemptOutcome, EventType
from assent.jobs.webhook_sender import Sender, body_of, sign
from assent.services import webhooks as service
from assent.storage import tables as t
from assent.storage.db import Database

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True, slots=True)
class EndpointChanges:
    """A PATCH: only the fields given change."""

    url: str | None = None
    event_types: Sequence[str] | None = None
    description: str | None = None
    enabled: bool | None = None
    fields: frozenset[str] = frozenset()  # which of the above were given (description may be cleared)


def create_webhook(
    db: Database, settings: Settings, url: str, event_types: Sequence[str], description: str | None,
    *, clock: Clock = t.now,
) -> dict[str, Any]:
    """A new endpoint, receiving the events written from now on; the answer holds its secret."""
    checked = service.check_url(url, allow_private=settings.webhook_allow_private)
    types = service.check_event_types(event_types)
    with db.write() as conn:
        return service.insert_endpoint(conn, checked, types, (description or "").strip() or None, clock())


def update_webhook(
    db: Database, settings: Settings, endpoint_id: str, changes: EndpointChanges, *, clock: Clock = t.now
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "url" in changes.fields and changes.url is not None:
        values["url"] = service.check_url(changes.url, allow_private=settings.webhook_allow_private)
    if "event_types" in changes.fields and changes.event_types is not None:
        values["event_types"] = service.check_event_types(changes.event_types)
    if "description" in changes.fields:
        values["description"] = (changes.description or "").strip() or None
    if "enabled" in changes.fields and changes.enabled is not None:
        values["enabled"] = changes.enabled
    with db.write() as conn:
        return service.update_endpoint(conn, endpoint_id, values, clock())


def delete_webhook(db: Database, endpoint_id: str) -> None:
    """The endpoint, its pending deliveries and its log."""
    with db.write() as conn:
        service.delete_endpoint(conn, endpoint_id)


def rotate_webhook_secret(db: Database, endpoint_id: str, *, clock: Clock = t.now) -> dict[str, Any]:
    """A new secret; the old one signs beside it for 24 hours (two `v1,` signatures)."""
    with db.write() as conn:
        return service.rotate_secret(conn, endpoint_id, clock())


def retry_delivery(db: Database, endpoint_id: str, event_id: int, *, clock: Clock = t.now) -> dict[str, Any]:
    """Deliver one event to one endpoint again, with the same webhook-id and a new retry window."""
    with db.write() as conn:
        return service.requeue(conn, endpoint_id, event_id, clock())


def send_test_event(
    db: Database, settings: Settings, endpoint_id: str, *, clock: Clock = t.now, sender: Sender | None = None
) -> dict[str, Any]:
    """POST a signed `webhook.test` event to the endpoint now and log the attempt. Nothing
    is retried: the answer says what the receiver did."""
    w = t.webhook_endpoints
    with db.read() as conn:
        service.get_endpoint(conn, endpoint_id)
        row = conn.execute(sa.select(w).where(w.c.id == endpoint_id)).one()
    at = clock()
    webhook_id = f"test_{secrets.token_hex(8)}"
    body = body_of(
        EventType.TEST.value, at, {"webhook_id": endpoint_id, "message": "A test event from Assent."}
    )
    own = sender or Sender(allow_private=settings.webhook_allow_private)
    try:
        result = own.post(row.url, body, sign(service.signing_secrets(row, at), webhook_id, at, body))
    finally:
        if sender is None:
            own.close()
    with db.write() as conn:
        conn.execute(
            t.webhook_attempts.insert().values(
                endpoint_id=endpoint_id,
                event_id=None,
                attempt=1,
                outcome=AttemptOutcome.TEST.value,
                status_code=result.status_code,
                error=result.error,
                response_body=result.body or None,
                duration_ms=result.duration_ms,
                at=at,
                next_attempt_at=None,
            )
        )
    return {
        "webhook_id": webhook_id,
        "delivered": result.error is None,
        "status_code": result.status_code,
        "error": result.error,
        "duration_ms": result.duration_ms,
    }
