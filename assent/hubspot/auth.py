"""`Authorization: Bearer <API key>`, as HubSpot's SDKs send a private-app token.

An Assent API key with the `read` scope may read (HubSpot's `communication_preferences.read`
and batch read), one with `write` may also write (`.write`, `.read_write`, batch write).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from assent.domain.model import Actor, Source
from assent.services.apikeys import KeyCache, Principal, authenticate
from assent.services.errors import FieldError, Problem
from assent.services.ledger import RequestContext
from assent.storage.db import Database

_bearer = HTTPBearer(auto_error=False, description="An Assent API key, sent as HubSpot's private-app token.")

HUBSPOT_SCOPES = {"read": "communication_preferences.read", "write": "communication_preferences.write"}


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _cache(request: Request) -> KeyCache:
    state = request.app.state
    cache: KeyCache | None = getattr(state, "key_cache", None)
    if cache is None:
        cache = state.key_cache = KeyCache()
    return cache


def _look_up(request: Request, token: str) -> Principal | None:
    with db_of(request).read() as conn:
        principal = authenticate(conn, token)
    if principal is not None:
        _cache(request).put(token, principal)
    return principal


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Principal:
        # Async, so that a key remembered for a moment (KeyCache: a revoked key stops working
        # within its bound) costs neither a transaction nor a hop to a worker thread.
        token = credentials.credentials if credentials else None
        principal = None
        if token and len(token) <= 500:
            principal = _cache(request).get(token) or await run_in_threadpool(_look_up, request, token)
        if principal is None:
            raise Problem(
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found or invalid: send Authorization: Bearer <Assent API key>.",
                status=401,
            )
        if not principal.allows(scope):
            text = f"This API key lacks the {scope!r} scope (HubSpot's {HUBSPOT_SCOPES[scope]})."
            raise Problem(
                "MISSING_SCOPES", text, errors=[FieldError("Authorization", text, "MISSING_SCOPES")], status=403
            )
        return principal

    return dependency


read = require("read")
write = require("write")


def actor(principal: Principal) -> Actor:
    """Every change through this API is a user's act through an API key (SPEC §1)."""
    return Actor(Source.HUBSPOT_API, principal.id)


def context(request: Request) -> RequestContext:
    return RequestContext.from_client(
        request.client.host if request.client else None, request.headers.get("user-agent")
    )
