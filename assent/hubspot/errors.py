"""HubSpot's error shape for everything the compatible API answers with an error.

    {"status": "error", "message": "…", "correlationId": "<uuid>", "category": "VALIDATION_ERROR",
     "subCategory": "…", "errors": [{"message": "…", "in": "subscriptionId", "code": "…"}]}

HubSpot answers bad input with 400 (never 422): Assent's 422s (an invalid address, a missing
legal basis) become 400 `VALIDATION_ERROR` here. Routing (404, 405), authentication (401,
403), oversized bodies (413), an unreachable database (503, with Retry-After) and unexpected
failures (500) use the same shape.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assent.services.errors import FieldError, Problem
from assent.unavailable import answer_unavailable

log = logging.getLogger(__name__)

CATEGORIES = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "VALIDATION_ERROR",
    415: "VALIDATION_ERROR",
    429: "RATE_LIMITS",
}

#: The largest request body read (a batch of 1,000 inputs is ~250 KB).
MAX_BODY_BYTES = 1024 * 1024


def error_body(
    status: int,
    message: str,
    *,
    sub_category: str | None = None,
    errors: list[FieldError] | None = None,
    context: dict[str, list[str]] | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": correlation_id or str(uuid.uuid4()),
        "category": CATEGORIES.get(status, "INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR"),
    }
    if sub_category:
        body["subCategory"] = sub_category
    if errors:
        body["errors"] = [{"message": e.reason, "in": e.field, "code": e.code} for e in errors]
    if context:
        body["context"] = context
    return body


def error_response(status: int, message: str, **kwargs: Any) -> JSONResponse:
    body = error_body(status, message, **kwargs)
    headers = {"X-HubSpot-Correlation-Id": body["correlationId"]}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, headers=headers)


def hubspot_status(problem_status: int) -> int:
    return 400 if problem_status == 422 else problem_status


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts: list[str] = []
    for part in loc:
        if part in ("body", "query", "path", "header"):
            continue
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]" if parts else f"[{part}]"]
        else:
            parts.append(str(part))
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    app.add_middleware(BodyLimit)

    @app.exception_handler(Problem)
    def _problem(_request: Request, exc: Problem) -> JSONResponse:
        return error_response(hubspot_status(exc.status), exc.detail, sub_category=exc.code, errors=exc.errors)

    @app.exception_handler(RequestValidationError)
    def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(_location(e.get("loc", ())), str(e.get("msg", "invalid")), "INVALID") for e in exc.errors()
        ]
        message = "Invalid input: " + "; ".join(f"{e.field}: {e.reason}" for e in errors)
        return error_response(400, message, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"No such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, message)

    @app.exception_handler(OverflowError)
    @app.exception_handler(sa.exc.DataError)
    def _out_of_range(_request: Request, _exc: Exception) -> JSONResponse:
        return error_response(400, "a value in the request is out of range for its field")

    unavailable = "The database cannot be reached; nothing was written. Try again in a moment."
    answer_unavailable(app, lambda _request: error_response(503, unavailable))

    @app.exception_handler(Exception)
    def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("HubSpot-compatible API: unexpected error", exc_info=exc)
        return error_response(500, "Internal error; nothing was written.")


class BodyLimit:
    """Reads at most MAX_BODY_BYTES of a request body, else answers 413 (HubSpot's shape).

    A NUL in the path or query is a 400 here too, before any route sees it (PostgreSQL cannot
    store one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
        if b"%00" in raw or b"\x00" in raw:
            await error_response(400, "path or query: must not contain NUL characters")(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")  # bytes: isdigit is ASCII-only
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            await _too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await _too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def body_too_large(_scope: Scope, limit: int) -> JSONResponse:
    """The root body limit's 413 (assent/bodylimit.py), in HubSpot's shape, for a body past
    even the backup limit above this API's own."""
    return error_response(413, f"The request body is larger than {limit:,} bytes.")


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(413, f"The request body is larger than {MAX_BODY_BYTES:,} bytes.")
    await response(scope, receive, send)
