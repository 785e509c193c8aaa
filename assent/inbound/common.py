"""What every inbound webhook needs: a bounded body, the public URL a provider signed, and
small problem responses."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import ImmutableMultiDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from assent.config import Settings
from assent.services.errors import Problem
from assent.unavailable import answer_unavailable

#: no provider's callback comes near this; anything larger is refused unread
MAX_BODY = 64 * 1024
FORM = "application/x-www-form-urlencoded"


class Refused(Exception):
    """Answer with `status` and a small problem body; nothing was written."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra


def problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    body = {"title": HTTPStatus(status).phrase, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def install_errors(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    def _refused(_request: Request, exc: Refused) -> JSONResponse:
        return problem(exc.status, exc.detail, **exc.extra)

    @app.exception_handler(Problem)
    def _problem(_request: Request, exc: Problem) -> JSONResponse:
        fields = {"field": exc.errors[0].field} if exc.errors else {}
        return problem(exc.status, exc.detail, code=exc.code, **fields)

    @app.exception_handler(RequestValidationError)
    def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(422, "the request is not what this webhook takes")

    @app.exception_handler(StarletteHTTPException)
    def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail))

    # Nothing was written: a 5xx, so the provider delivers the callback again (or to its fallback).
    answer_unavailable(app, lambda _request: problem(503, "the database cannot be reached; nothing was written"))


def body_too_large(_scope: Scope, limit: int) -> JSONResponse:
    """The root body limit's 413 (assent/bodylimit.py), past even the backup limit above the
    providers' own."""
    return problem(413, f"the body is larger than {limit} bytes")


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, or 413 as soon as it is longer than `limit` (never held whole beyond it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdecimal() and int(declared) > limit:
        raise Refused(413, f"the body is larger than {limit} bytes")
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise Refused(413, f"the body is larger than {limit} bytes")
    return bytes(received)


async def read_form(request: Request, limit: int = MAX_BODY) -> ImmutableMultiDict[str, str]:
    """A form-encoded body (every value of a repeated field kept, as providers sign them)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != FORM:
        raise Refused(415, f"send {FORM}")
    body = await read_body(request, limit)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the body is not UTF-8") from None
    return ImmutableMultiDict(parse_qsl(text, keep_blank_values=True))


def public_url(settings: Settings, request: Request) -> str:
    """The URL the provider called, as the public sees it (ASSENT_BASE_URL + path + query):
    behind a proxy the request's own host and scheme are not what was signed."""
    path = request.url.path
    query = request.url.query
    return settings.base_url + path + (f"?{query}" if query else "")
