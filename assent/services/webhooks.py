"""Webhook endpoints and their delivery log over a Connection (SPEC R25).

Reads for every interface; the writes here are the steps `assent.actions.webhooks` runs in
its own transactions. Secrets leave this module only in a create or rotate answer.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import secrets
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.webhooks import ROTATION_OVERLAP, DeliveryState, normalize_event_types, refused_target
from assent.services.errors import Collected, Invalid, NotFound
from assent.storage import tables as t

MAX_URL = 2000


def new_endpoint_id() -> str:
    return f"wh_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_url(url: str, *, allow_private: bool) -> str:
    """A usable target, or a 422 naming `url`. Host names are judged again at every attempt,
    after DNS; an address written into the URL is judged here already."""
    url = url.strip()
    if not url or len(url) > MAX_URL:
        raise Invalid("url", f"give an http:// or https:// URL of at most {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("url", "must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise Invalid("url", "must not carry a user name or password: the signature authenticates Assent")
    try:
        _ = parts.port
    except ValueError:
        raise Invalid("url", "the port is not a number from 1 to 65535") from None
    if not allow_private:
        try:
            ipaddress.ip_address(parts.hostname)
        except ValueError:
            return url
        reason = refused_target(parts.hostname)
        if reason:
            raise Invalid("url", f"{reason}; such targets need ASSENT_WEBHOOK_ALLOW_PRIVATE=true", "PRIVATE_TARGET")
    return url


def check_event_types(requested: Sequence[str]) -> list[str]:
    chosen, problems = normalize_event_types(requested)
    found = Collected()
    for index, reason in problems:
        found.add("event_types" if index < 0 else f"event_types[{index}]", reason, "UNKNOWN_EVENT_TYPE")
    found.raise_if_any()
    return chosen


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "description": row.description,
        "event_types": list(row.event_types),
        "enabled": row.enabled,
        "disabled_reason": row.disabled_reason,
        "disabled_at": row.disabled_at,
        "failing_since": row.failing_since,
        "secret_rotated_at": row.secret_rotated_at,
        "previous_secret_until": row.previous_secret_until,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def list_endpoints(conn: Connection) -> list[dict[str, Any]]:
    w = t.webhook_endpoints
    return [_public(r) for r in conn.execute(sa.select(w).order_by(w.c.created_at, w.c.id))]


def get_endpoint(conn: Connection, endpoint_id: str) -> dict[str, Any]:
    w = t.webhook_endpoints
    row = conn.execute(sa.select(w).where(w.c.id == endpoint_id)).first()
    if row is None:
        raise NotFound("webhook", endpoint_id)
    return _public(row)


def signing_secrets(row: Any, now: dt.datetime) -> list[str]:
    """The secrets that sign now: the current one, and the one a rotation replaced for 24 h."""
    found = [row.secret]
    if row.previous_secret and row.previous_secret_until and row.previous_secret_until > now:
        found.append(row.previous_secret)
    return found


def insert_endpoint(
    conn: Connection, url: str, event_types: list[str], description: str | None, now: dt.datetime
) -> dict[str, Any]:
    position = conn.execute(sa.select(t.ledger_counter.c.last_id)).scalar_one()
    endpoint_id, secret = new_endpoint_id(), new_secret()
    conn.execute(
        t.webhook_endpoints.insert().values(
            id=endpoint_id,
            url=url,
            description=description,
            event_types=event_types,
            enabled=True,
            secret=secret,
            start_after=position,
            created_at=now,
            updated_at=now,
        )
    )
    return {**get_endpoint(conn, endpoint_id), "secret": secret}


def update_endpoint(conn: Connection, endpoint_id: str, values: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    get_endpoint(conn, endpoint_id)  # 404 first
    w = t.webhook_endpoints
    changes = {**values, "updated_at": now}
    if values.get("enabled") is True:
        # Enabled again by a person: the failing clock and the notice start over.
        changes.update(disabled_at=None, disabled_reason=None, failing_since=None)
    elif values.get("enabled") is False:
        changes.update(disabled_at=now, disabled_reason="Disabled by an administrator.")
    conn.execute(sa.update(w).where(w.c.id == endpoint_id).values(**changes))
    return get_endpoint(conn, endpoint_id)


def delete_endpoint(conn: Connection, endpoint_id: str) -> None:
    get_endpoint(conn, endpoint_id)
    conn.execute(sa.delete(t.webhook_attempts).where(t.webhook_attempts.c.endpoint_id == endpoint_id))
    conn.execute(sa.delete(t.webhook_deliveries).where(t.webhook_deliveries.c.endpoint_id == endpoint_id))
    conn.execute(sa.delete(t.webhook_endpoints).where(t.webhook_endpoints.c.id == endpoint_id))


def rotate_secret(conn: Connection, endpoint_id: str, now: dt.datetime) -> dict[str, Any]:
    w = t.webhook_endpoints
    row = conn.execute(sa.select(w).where(w.c.id == endpoint_id)).first()
    if row is None:
        raise NotFound("webhook", endpoint_id)
    secret = new_secret()
    conn.execute(
        sa.update(w)
        .where(w.c.id == endpoint_id)
        .values(
            secret=secret,
            previous_secret=row.secret,
            previous_secret_until=now + ROTATION_OVERLAP,
            secret_rotated_at=now,
            updated_at=now,
        )
    )
    return {**get_endpoint(conn, endpoint_id), "secret": secret}


def requeue(conn: Connection, endpoint_id: str, event_id: int, now: dt.datetime) -> dict[str, Any]:
    """Deliver one event again (same webhook-id), with a fresh retry window."""
    get_endpoint(conn, endpoint_id)
    d = t.webhook_deliveries
    where = sa.and_(d.c.endpoint_id == endpoint_id, d.c.event_id == event_id)
    found = conn.execute(sa.select(d.c.state).where(where)).first()
    if found is None:
        raise NotFound(f"delivery of event {event_id} to webhook", endpoint_id)
    conn.execute(
        sa.update(d)
        .where(where)
        .values(
            state=DeliveryState.PENDING.value,
            next_attempt_at=now,
            first_attempt_at=None,
            finished_at=None,
            lease_owner=None,
            lease_until=None,
        )
    )
    return delivery(conn, endpoint_id, event_id)


def delivery(conn: Connection, endpoint_id: str, event_id: int) -> dict[str, Any]:
    d = t.webhook_deliveries
    row = conn.execute(
        sa.select(d.c.event_id, d.c.state, d.c.attempts, d.c.next_attempt_at, d.c.last_status_code, d.c.last_error)
        .where(d.c.endpoint_id == endpoint_id, d.c.event_id == event_id)
    ).one()
    return dict(row._mapping)


def attempts_page(
    conn: Connection, endpoint_id: str, cursor: int | None, limit: int, event_id: int | None = None
) -> dict[str, Any]:
    """The delivery log, newest first, keyset-paged by the attempt's id."""
    get_endpoint(conn, endpoint_id)
    a = t.webhook_attempts
    query = sa.select(a).where(a.c.endpoint_id == endpoint_id)
    if event_id is not None:
        query = query.where(a.c.event_id == event_id)
    if cursor is not None:
        query = query.where(a.c.id < cursor)
    rows = conn.execute(query.order_by(a.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    results = [
        {
            "event_id": r.event_id,
            "attempt": r.attempt,
            "outcome": r.outcome,
            "status_code": r.status_code,
            "error": r.error,
            "response_body": r.response_body,
            "duration_ms": r.duration_ms,
            "at": r.at,
            "next_attempt_at": r.next_attempt_at,
        }
        for r in rows
    ]
    return {"results": results, "next": str(rows[-1].id) if more else None}


def pending_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """Deliveries by endpoint and state."""
    d = t.webhook_deliveries
    counts: dict[str, dict[str, int]] = {}
    for endpoint_id, state, count in conn.execute(
        sa.select(d.c.endpoint_id, d.c.state, sa.func.count()).group_by(d.c.endpoint_id, d.c.state)
    ):
        counts.setdefault(endpoint_id, {})[state] = count
    return counts


def backlog(conn: Connection, now: dt.datetime) -> dict[str, float]:
    """Per endpoint: the age in seconds of its oldest undelivered event (0 when none waits),
    counting events the fan-out has not reached yet."""
    d, e, o = t.webhook_deliveries, t.webhook_endpoints, t.outbox
    oldest: dict[str, float] = {row.id: 0.0 for row in conn.execute(sa.select(e.c.id))}
    for endpoint_id in oldest:
        first = conn.execute(
            sa.select(sa.func.min(d.c.event_id)).where(
                d.c.endpoint_id == endpoint_id, d.c.state == DeliveryState.PENDING.value
            )
        ).scalar()
        if first is not None:
            at = conn.execute(sa.select(o.c.created_at).where(o.c.event_id == first)).scalar()
            if at is not None:
                oldest[endpoint_id] = max(0.0, (now - at).total_seconds())
    unpublished = conn.execute(
        sa.select(o.c.created_at).where(o.c.published_at.is_(None)).order_by(o.c.event_id).limit(1)
    ).scalar()
    if unpublished is not None:
        age = max(0.0, (now - unpublished).total_seconds())
        oldest = {k: max(v, age) for k, v in oldest.items()}
    return oldest
