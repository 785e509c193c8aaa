"""Ledger events as every interface shows them: the API feed (`GET /api/v1/events`) and
the `data` of a webhook are one shape, serialized by one model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from assent.storage import tables as t


class EventOut(BaseModel):
    id: int
    at: dt.datetime
    kind: str
    channel: str
    address: str | None
    business_unit_id: int | None
    subscription_type_id: int | None
    old_status: str | None
    new_status: str | None
    legal_basis: str | None
    legal_basis_explanation: str | None
    processing_legal_basis: str | None
    source: str
    actor_kind: str
    actor_id: str | None
    ip: str | None
    user_agent: str | None
    job_id: str | None
    notice_version: str | None
    notice_text: str | None
    redacted: bool


def event_dict(row: Any) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in t.ledger_events.columns if c.name != "address_hash"}


def public_events(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Events by id, as JSON-ready dicts exactly as the feed shows them (read now, so an
    erasure's redaction since the event was written is what goes out)."""
    if not ids:
        return {}
    e = t.ledger_events
    rows = conn.execute(sa.select(e).where(e.c.id.in_(list(ids)))).all()
    return {row.id: EventOut.model_validate(event_dict(row)).model_dump(mode="json") for row in rows}
