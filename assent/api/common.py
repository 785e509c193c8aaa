"""Small pieces every native API module uses."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.engine import Connection

from assent.domain.model import API_KEY_SOURCES, Actor, Source
from assent.services.apikeys import Principal
from assent.services.errors import Invalid
from assent.services.events import event_dict
from assent.services.ledger import RequestContext
from assent.storage import tables as t
from assent.storage.db import Database


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def actor_for(principal: Principal, source: str | Source) -> Actor:
    """The actor an API key acts as. Only the sources in API_KEY_SOURCES may be claimed by
    a caller; our own handlers pass others (BOUNCE) as a Source value."""
    if isinstance(source, Source):
        return Actor(source, principal.id)
    try:
        parsed = Source(source)
    except ValueError:
        raise Invalid("source", f"unknown source {source!r}") from None
    if parsed not in API_KEY_SOURCES:
        allowed = ", ".join(sorted(s.value for s in API_KEY_SOURCES))
        raise Invalid("source", f"an API key may act as {allowed}; {source} is the contact's own", "SOURCE_NOT_ALLOWED")
    return Actor(parsed, principal.id)


def client_context(request: Request, job_id: str | None = None) -> RequestContext:
    ip = request.client.host if request.client else None
    context = RequestContext.from_client(ip, request.headers.get("user-agent"))
    return RequestContext(context.ip, context.user_agent, job_id)


def parse_cursor(cursor: str | None, field: str = "cursor") -> int | None:
    if cursor is None or cursor == "":
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise Invalid(field, "not a cursor this API returned")
    return int(cursor)


def events_page(conn: Connection, where: Any, cursor: str | None, limit: int, *, newest_first: bool) -> dict[str, Any]:
    e = t.ledger_events
    position = parse_cursor(cursor)
    query = sa.select(e).where(where)
    if position is not None:
        query = query.where(e.c.id < position if newest_first else e.c.id > position)
    query = query.order_by(e.c.id.desc() if newest_first else e.c.id).limit(limit + 1)
    rows = conn.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    following = str(rows[-1].id) if rows and (more or not newest_first) else (cursor if not newest_first else None)
    return {"results": [event_dict(r) for r in rows], "next": following}
