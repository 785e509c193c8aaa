"""Bearer API keys with scopes read < write < admin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from assent.services.apikeys import KeyCache, Principal, authenticate
from assent.services.errors import Problem
from assent.storage.db import Database

_bearer = HTTPBearer(auto_error=False, description="An Assent API key: `assent api-key create`.")


def bearer_token(authorization: str | None) -> str | None:
    """The credentials of an `Authorization: Bearer <key>` header, or None. The scheme is
    case-insensitive (RFC 9110 §11.1): `bearer`, `BEARER` and `Bearer` are one. The one
    parser for routes, the idempotency middleware and the form endpoint."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def key_cache(app: Starlette) -> KeyCache:
    """The API keys the app remembers (`KeyCache`), shared by its routes and
    `fast_decision.FastDecisions`."""
    state = app.state
    cache: KeyCache | None = getattr(state, "key_cache", None)
    if cache is None:
        cache = state.key_cache = KeyCache()
    return cache


def _cache(request: Request) -> KeyCache:
    return key_cache(request.app)


def principal_from(request: Request, token: str | None) -> Principal | None:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    if not token:
        return None
    principal = _cache(request).get(token)
    if principal is None:
        db: Database = request.app.state.db
        with db.read() as conn:
            principal = authenticate(conn, token)
        if principal is not None:
            _cache(request).put(token, principal)
    request.state.principal = principal
    return principal


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    async def dependency(request: Request, _: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        # `_bearer` documents the scheme in OpenAPI; the header is read by `bearer_token`.
        # Async, so a remembered key costs no hop to a worker thread; a new one is looked up
        # in one (a database read).
        token = bearer_token(request.headers.get("authorization"))
        principal = _cache(request).get(token) if token else None
        if principal is not None:
            request.state.principal = principal
        else:
            principal = await run_in_threadpool(principal_from, request, token)
        if principal is None:
            raise Problem("UNAUTHENTICATED", "Send a valid API key: Authorization: Bearer <key>.", status=401)
        if not principal.allows(scope):
            raise Problem("FORBIDDEN", f"This API key lacks the {scope!r} scope.", status=403)
        return principal

    return dependency


read = require("read")
write = require("write")
admin = require("admin")
