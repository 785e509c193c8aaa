"""Read-your-writes across replicas (R12): the `Assent-Consistency` header.

Every response whose request committed a change carries `Assent-Consistency: <last ledger
id it committed>`. A client that sends that value back (as the header, or as the
`min_event_id` query parameter) is served by a replica only once the replica has replayed
at least that far (`Database.read_replica`), else by the primary.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assent.api.problems import problem_response
from assent.services.errors import FieldError
from assent.storage.db import track_consistency

HEADER = "assent-consistency"
PARAMETER = "min_event_id"
_HEADER_BYTES = HEADER.encode()
_PARAMETER_BYTES = PARAMETER.encode()


def requested_position(scope: Scope) -> tuple[int | None, str | None]:
    """The position the request asks for, and the field that was malformed, if any."""
    raw: str | None = None
    field = HEADER
    for name, value in scope.get("headers", ()):
        if name == _HEADER_BYTES:
            raw = value.decode("latin-1").strip()
    query = scope.get("query_string", b"")
    if raw is None and _may_name_position(query):
        values = parse_qs(query.decode("latin-1")).get(PARAMETER)
        if values:
            raw, field = values[-1].strip(), PARAMETER
    if raw is None or raw == "":
        return None, None
    if not raw.isdecimal() or len(raw) > 18:
        return None, field
    return int(raw), None


def _may_name_position(query: bytes) -> bool:
    """Whether a parameter of the query is, or may decode to, `min_event_id`: the query
    is parsed only then (not for every decision)."""
    if _PARAMETER_BYTES in query:
        return True
    return b"%" in query and any(b"%" in pair.partition(b"=")[0] for pair in query.split(b"&"))


class ConsistencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        required, bad = requested_position(scope)
        if bad is not None:
            reason = "must be a ledger position this API returned (a non-negative integer)"
            response = problem_response(
                422, "VALIDATION_FAILED", "Unprocessable content", f"{bad}: {reason}", [FieldError(bad, reason)]
            )
            await response(scope, receive, send)
            return
        holder = track_consistency(required)

        async def send_with_position(message: Message) -> None:
            if message["type"] == "http.response.start" and holder.committed is not None:
                headers = list(message.get("headers", []))
                headers.append((b"assent-consistency", str(holder.committed).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_position)
