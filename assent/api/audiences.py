"""`/api/v1/audiences/filter`: which of these addresses may receive this type? (R11, R12)

A stream in, a stream out, of any length. The upload is spooled to a temporary file (in
memory up to `SPOOL_IN_MEMORY`, on disk beyond) and checked to be UTF-8 while it arrives, so
that a bad byte is a 422 naming its line before anything is sent. Only then does the response
start; reading the whole body first also keeps the response from competing with the request
for `receive()`. The handler is async for that reading alone: deciding runs in worker threads.
"""

from __future__ import annotations

import tempfile
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from assent.api import auth
from assent.api.common import db_of
from assent.api.responses import problem
from assent.api.schemas import QueryId
from assent.services import audiences
from assent.services.apikeys import Principal
from assent.services.audiences import CSV, NDJSON, Utf8Check
from assent.services.errors import Problem

router = APIRouter(tags=["audiences"])

SPOOL_IN_MEMORY = 1 << 20
_ALIASES = {CSV: CSV, NDJSON: NDJSON, "application/ndjson": NDJSON}

_BODY_DESCRIPTION = """One address per line, as many lines as you like.

- `text/csv`: the first column of each line; an optional header row (`address`, `email` or
  `phone`) is skipped.
- `application/x-ndjson`: one object per line, `{"address": "…"}`.

UTF-8 only (a byte-order mark is allowed). Blank lines are skipped.
"""

_OUTPUT_DESCRIPTION = """The sendable addresses, normalized, in the order they came — in the
media type of the request unless `Accept` names the other one. With `include_blocked=true`,
every line with its decision: CSV `address,allowed,reasons` (reasons joined with `|`), or
NDJSON `{"address", "allowed", "reasons"}`. Lines that are not addresses are blocked with
`INVALID_ADDRESS` and shown as sent. For an SMS or WhatsApp type whose unit has quiet hours
(R28), lines outside the sending window are blocked with `QUIET_HOURS` and carry `defer_until`
(a fourth CSV column `defer_until`, an NDJSON field): when to send instead."""

_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": _BODY_DESCRIPTION,
        "content": {
            CSV: {"schema": {"type": "string"}, "example": "email\nAlice@Example.com\nbob@example.com\n"},
            NDJSON: {"schema": {"type": "string"}, "example": '{"address": "Alice@Example.com"}\n'},
        },
    }
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": _OUTPUT_DESCRIPTION,
        "content": {
            CSV: {"schema": {"type": "string"}, "example": "address\nAlice@example.com\n"},
            NDJSON: {"schema": {"type": "string"}, "example": '{"address":"Alice@example.com"}\n'},
        },
    },
    415: problem("The body is neither text/csv nor application/x-ndjson (UTF-8)."),
    422: problem(
        "Unknown subscription type, or a body that is not UTF-8 or has a line over 2 MiB (the line is named)."
    ),
}


@router.post(
    "/audiences/filter",
    summary="Filter an audience of any length (streamed)",
    response_class=StreamingResponse,
    responses=_RESPONSES,
    openapi_extra=_OPENAPI,
)
async def filter_audience(
    request: Request,
    subscription_type_id: QueryId,
    include_blocked: Annotated[bool, Query(description="Also return the blocked lines, with reasons")] = False,
    _: Principal = Depends(auth.read),
) -> StreamingResponse:
    media_type = _media_type(request.headers.get("content-type"))
    output = _output(request.headers.get("accept"), media_type)
    db = db_of(request)
    quiet_hours = await run_in_threadpool(audiences.check_type, db, subscription_type_id)
    upload = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by the stream
    check = Utf8Check()
    try:
        async for block in request.stream():
            check.feed(block)
            upload.write(block)
        check.close()
    except BaseException:
        upload.close()
        raise
    upload.seek(0)
    body = audiences.filter_audience(
        db,
        subscription_type_id,
        upload,
        media_type=media_type,
        output=output,
        include_blocked=include_blocked,
        lines_expected=check.lines + 1,
        quiet_hours=quiet_hours,
    )
    return StreamingResponse(body, media_type=output)


def _media_type(content_type: str | None) -> str:
    kind, *parameters = (content_type or "").split(";")
    media_type = _ALIASES.get(kind.strip().lower())
    charset = "utf-8"
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if media_type is None or charset not in ("utf-8", "utf8"):
        raise Problem(
            "UNSUPPORTED_MEDIA_TYPE",
            "Send text/csv or application/x-ndjson, in UTF-8.",
            status=415,
            extra={"field": "body"},
        )
    return media_type


def _output(accept: str | None, media_type: str) -> str:
    """The request's media type, unless Accept names only the other one."""
    named = [_ALIASES.get(part.partition(";")[0].strip().lower()) for part in (accept or "").split(",")]
    offered = [kind for kind in named if kind is not None]
    if offered and media_type not in offered:
        return offered[0]
    return media_type
