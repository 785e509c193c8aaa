"""`GET /api/v1/decisions` answered before the framework routes it: a sender's hottest path.

The route in `decisions.py` stays the definition — it is what the OpenAPI document shows,
and it answers every request this module passes on. What this module answers is the plain
request of a sender that holds a valid key: `address` and `subscription_type_id`, perhaps
`channel` and `min_event_id`, each once, well-formed, and an API key with the read scope
that the API remembers (`auth.key_cache`). It asks the same code for the verdict
(`decisions.decide_now`, `decisions.decision_response`) and renders a problem with the API's
own exception handlers, so the answer is the route's, byte for byte
(tests/decisions/test_fast_decision.py compares them).

Everything else goes on, unchanged, to the framework: `as_of`, any other or repeated
parameter, a value the route's validation would refuse or that this module would have to
read the way pydantic reads it, a NUL, a malformed `Assent-Consistency`, a key not
remembered (authenticating it is the route's, which then remembers it), a key without the
read scope, a root path. What that saves is the framework's work per request — the API
sub-app's middleware, route matching, and the solving of four query parameters and the
key's dependency: 62 % of a decision's instructions in the server process on SQLite, 49 %
on PostgreSQL (callgrind, measured when this was written).

The read-your-writes position (`Assent-Consistency`, `min_event_id`) is read by the same
function as `ConsistencyMiddleware` and tracked the same way, so a replica serves the
decision only once it has replayed that far (`Database.read_once`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from assent.api import PREFIX
from assent.api.auth import bearer_token, key_cache
from assent.api.consistency import requested_position
from assent.api.decisions import decide_now, decision_response
from assent.api.schemas import MAX_ID
from assent.storage.db import Database, track_consistency

PATH = f"{PREFIX}/decisions"
#: the route's parameters this module reads; any other (`as_of` above all) goes to the route
_PARAMETERS = frozenset({"address", "subscription_type_id", "channel", "min_event_id"})
#: the route's `Query(max_length=320)`
_MAX_ADDRESS = 320


class FastDecisions:
    """ASGI middleware on the root app, inside the body limit and idempotency middleware."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api  # the API sub-app: its database, its remembered keys, its error handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        query = _plain_query(scope.get("query_string", b""))
        required, malformed = requested_position(scope)
        if query is None or malformed is not None or not self._may_read(scope):
            await self.app(scope, receive, send)
            return
        address, type_id, channel = query
        db: Database = self.api.state.db
        track_consistency(required)
        try:
            body = await decide_now(db, address, type_id, channel)
        except Exception as error:
            handler = _handler_for(self.api, error)
            if handler is None:
                raise  # as the API's own: a 500 from the server-error middleware
            response = handler(Request(scope, receive), error)
            if inspect.isawaitable(response):
                response = await response
        else:
            response = decision_response(body)
        await response(scope, receive, send)

    def _may_read(self, scope: Scope) -> bool:
        """Whether the request carries a key the API remembers, with the read scope."""
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":  # the first, as `request.headers.get` reads it
                authorization = value.decode("latin-1")
                break
        token = bearer_token(authorization)
        principal = key_cache(self.api).get(token) if token else None
        return principal is not None and principal.allows("read")


def _plain_query(query: bytes) -> tuple[str, int, str | None] | None:
    """(address, subscription_type_id, channel) when the route would read them as given,
    else None. Parsed as Starlette parses a query; a NUL is the API's RejectNul's to refuse."""
    if b"%00" in query or b"\x00" in query:
        return None
    found: dict[str, str] = {}
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name not in _PARAMETERS or name in found:
            return None
        found[name] = value
    address, type_id = found.get("address"), found.get("subscription_type_id", "")
    if address is None or len(address) > _MAX_ADDRESS or not _plain_id(type_id):
        return None
    return address, int(type_id), found.get("channel")


def _plain_id(text: str) -> bool:
    """Decimal digits without sign, space or leading zero, within the route's bounds
    (`QueryId`): any other spelling is pydantic's to read or refuse."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return False
    return (text == "0" or not text.startswith("0")) and int(text) <= MAX_ID


def _handler_for(app: FastAPI, error: Exception) -> Callable[[Request, Exception], Any] | None:
    """The app's exception handler for `error`, looked up along its classes as Starlette's
    exception middleware does."""
    handlers = app.exception_handlers
    for cls in type(error).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None
