"""`Authorization: Bearer <API key>`, as HubSpot's SDKs send a private-app token.

An Assent API key with the `read` scope may read (HubSpot's `communication_preferences.read`
and batch read), one with `write` may also write (`.write`, `.read_write`, batch write).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from assent.domain.model import Actor, Source
from assent.services.apikeys import Principal, authenticate
from assent.services.errors import FieldError, Problem
from assent.services.ledger import RequestContext
from assent.storage.db import Database

_bearer = HTTPBearer(auto_error=False, description="An Assent API key, sent as HubSpot's private-app token.")

HUBSPOT_SCOPES = {"read": "communication_preferences.read", "write": "communication_preferences.write"}


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def require(scope: str) -> Callable[..., Principal]:
    def dependency(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        token = credentials.credentials if credentials else None
        principal = None
        if token and len(token) <= 500:
            with db_of(request).read() as conn:
                principal = authenticate(conn, token)
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
