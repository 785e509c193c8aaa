"""RFC 9457 problem documents for every error the native API returns."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from assent.services.errors import FieldError, Problem
from assent.storage.db import RETRY_AFTER_SECONDS
from assent.unavailable import answer_unavailable

PROBLEM_JSON = "application/problem+json"


def problem_response(
    status: int, code: str, title: str, detail: str, errors: list[FieldError] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://assent.dev/problems/{code.lower().replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["field"] = errors[0].field
        body["errors"] = [{"field": e.field, "reason": e.reason, "code": e.code} for e in errors]
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


UNREADABLE_BODY = "the body must be JSON in UTF-8"


def _field_error(error: Any) -> FieldError:
    if error.get("type") == "json_invalid":
        # FastAPI locates a JSON syntax error by its character position; the field is the body.
        where = error.get("loc", ("body", None))[-1]
        reason = str(error.get("ctx", {}).get("error") or "invalid")
        return FieldError("body", f"not valid JSON: {reason} at character {where}", "VALIDATION_FAILED")
    return FieldError(_location(error.get("loc", ())), str(error.get("msg", "invalid")), "VALIDATION_FAILED")


def _unreadable_body(reason: str) -> JSONResponse:
    return problem_response(
        422, "VALIDATION_FAILED", "Unprocessable content", f"body: {reason}", [FieldError("body", reason)]
    )


def body_too_large(_scope: Scope, limit: int) -> JSONResponse:
    """The root body limit's 413 for `/api/v1` (assent/bodylimit.py)."""
    detail = f"body: larger than this route's limit of {limit:,} bytes"
    return problem_response(
        413,
        "BODY_TOO_LARGE",
        "Content too large",
        detail,
        [FieldError("body", detail.partition(": ")[2], "BODY_TOO_LARGE")],
        limit=limit,
    )


class RejectNul:
    """A NUL in a path or query parameter is a 422 before any route sees it (PostgreSQL
    cannot store one; see schemas.Strict for bodies)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The HubSpot-compatible sub-app answers NUL itself, in HubSpot's error shape.
        if scope["type"] == "http" and not scope["path"].startswith("/communication-preferences/"):
            raw = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
            if b"%00" in raw or b"\x00" in raw:
                response = problem_response(
                    422,
                    "VALIDATION_FAILED",
                    "Unprocessable content",
                    "path or query: must not contain NUL characters",
                    [FieldError("query", "must not contain NUL characters")],
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_middleware(RejectNul)

    @app.exception_handler(Problem)
    def _problem(_request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.code, exc.title, exc.detail, exc.errors, **exc.extra)

    @app.exception_handler(RequestValidationError)
    def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_field_error(e) for e in exc.errors()]
        detail = "; ".join(f"{e.field}: {e.reason}" for e in errors)
        return problem_response(422, "VALIDATION_FAILED", "Unprocessable content", detail, errors)

    detail = "The database cannot be reached; nothing was changed. Try again in a moment."
    answer_unavailable(
        app,
        lambda _request: problem_response(
            503, "UNAVAILABLE", "Service unavailable", detail, retry_after=RETRY_AFTER_SECONDS
        ),
    )

    @app.exception_handler(OverflowError)
    @app.exception_handler(sa.exc.DataError)
    def _out_of_range(_request: Request, exc: Exception) -> JSONResponse:
        # A number or text the database cannot hold (a path id beyond 64 bits on SQLite, beyond
        # 32 on PostgreSQL). Bodies are checked in schemas.Strict; this catches parameters.
        # The transaction has rolled back: nothing was written.
        detail = "a value in the request is out of range for its field"
        return problem_response(
            422, "VALUE_OUT_OF_RANGE", "Unprocessable content", detail, [FieldError("request", detail)]
        )

    @app.exception_handler(StarletteHTTPException)
    def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI's answer to a JSON body that is not UTF-8: bad input like any other, the
            # documented 422 naming the body (nothing was read into a model, nothing written).
            return _unreadable_body(f"not valid JSON: {UNREADABLE_BODY}")
        codes = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
        code = codes.get(exc.status_code, "HTTP_ERROR")
        return problem_response(exc.status_code, code, code.replace("_", " ").capitalize(), str(exc.detail))
