"""Small pieces every native API module uses."""

from __future__ import annotations

from fastapi import Request

from assent.domain.audit import AuditActor
from assent.domain.model import API_KEY_SOURCES, Actor, ActorClass, Source
from assent.services.apikeys import Principal
from assent.services.errors import Invalid
from assent.services.events import parse_cursor
from assent.services.ledger import RequestContext
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


def audit_actor(principal: Principal) -> AuditActor:
    """How an account change by an API key is audited (named as the ledger names it)."""
    return AuditActor(ActorClass.USER, principal.id)


def client_context(request: Request, job_id: str | None = None) -> RequestContext:
    ip = request.client.host if request.client else None
    context = RequestContext.from_client(ip, request.headers.get("user-agent"))
    return RequestContext(context.ip, context.user_agent, job_id)


__all__ = ["actor_for", "client_context", "db_of", "parse_cursor"]
