"""Rendering: one Jinja2 environment, pages and htmx fragments, redirects with a flash
message, and the error pages the admin shows instead of JSON problems."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from assent.admin import words
from assent.admin.security import SESSION_COOKIE, BadCsrf, NotAllowed, SignedIn, SignInRequired
from assent.config import Settings
from assent.services.errors import Problem
from assent.unavailable import answer_unavailable

#: where `app.py` mounts the admin
PREFIX = "/admin"

TEMPLATES = Path(__file__).parent / "templates"
FLASH_COOKIE = "assent_flash"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def when(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _number(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")  # a thin space groups digits in any language


_env.filters.update(when=when, number=_number)
_env.globals.update(words=words)


def base(request: Request) -> str:
    """Where the admin is mounted (/admin), so links work under any prefix."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"


def _serializer(request: Request) -> URLSafeSerializer:
    settings: Settings = request.app.state.settings
    return URLSafeSerializer(list(settings.secret_keys), salt="admin-flash")


def render(
    request: Request,
    template: str,
    me: SignedIn | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    flash = None
    raw = request.cookies.get(FLASH_COOKIE)
    if raw:
        try:
            flash = _serializer(request).loads(raw)
        except BadSignature:
            flash = None
    html = _env.get_template(template).render(
        request=request,
        me=me,
        base=base(request),
        csrf=me.csrf if me else "",
        flash=flash,
        query=request.query_params,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    if raw:
        response.delete_cookie(FLASH_COOKIE, path=base(request) or "/")
    return response


def redirect(request: Request, path: str, flash: str | None = None, *, kind: str = "ok") -> Response:
    """303 to an admin path. From htmx, an HX-Redirect header does the same navigation."""
    url = base(request) + path
    response: Response
    if is_htmx(request):
        response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if flash:
        response.set_cookie(
            FLASH_COOKIE,
            _serializer(request).dumps({"text": flash, "kind": kind}),
            path=base(request) or "/",
            httponly=True,
            samesite="lax",
        )
    return response


def with_query(path: str, **params: Any) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "", [])}
    return f"{path}?{urlencode(clean, doseq=True)}" if clean else path


def problem_words(problem: Problem) -> dict[str, str]:
    """A problem's field errors as {field: sentence}, in words where the code is known."""
    out: dict[str, str] = {}
    for error in problem.errors:
        text = words.REFUSALS.get(error.code)
        out[error.field] = text.one.format(channel="email") if text else error.reason
    if not out:
        out["_"] = problem.detail
    return out


# --- error pages --------------------------------------------------------------------------


def _error(request: Request, status: int, title: str, text: str) -> Response:
    me: SignedIn | None = getattr(request.state, "signed_in", None)
    return render(request, "error.html", me, status_code=status, title=title, text=text)


def body_too_large(scope: Scope, limit: int) -> Response:
    """The root body limit's 413 (assent/bodylimit.py) as the admin's own page. It is answered
    before the admin is reached, so its links are made for where the admin is mounted."""
    request = Request({**scope, "root_path": f"{scope.get('root_path', '')}{PREFIX}"})
    text = f"What was sent is larger than the limit of {limit:,} bytes. Nothing was changed."
    return _error(request, 413, "Too large", text)


def install_error_pages(app: FastAPI) -> None:
    @app.middleware("http")
    async def _reject_nul(request: Request, call_next: Any) -> Response:
        # A NUL in the path or query: PostgreSQL cannot hold one, SQLite would search for it.
        # Refused before any view runs, on the admin's own page (as the API refuses it in its shape).
        raw = request.scope.get("raw_path", b"") + b"?" + request.scope.get("query_string", b"")
        if b"%00" in raw or b"\x00" in raw:
            return _error(request, 422, "Check the address", "The address of this page contains a NUL character.")
        response: Response = await call_next(request)
        return response

    @app.exception_handler(SignInRequired)
    def _sign_in(request: Request, _exc: SignInRequired) -> Response:
        if request.method == "GET" and not is_htmx(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response: Response = RedirectResponse(with_query(base(request) + "/login", next=target), status_code=303)
        else:
            response = _error(request, 401, "Signed out", "Your session ended. Sign in again.")
        if request.cookies.get(SESSION_COOKIE):
            response.delete_cookie(SESSION_COOKIE, path=base(request) or "/")
        return response

    @app.exception_handler(NotAllowed)
    def _not_allowed(request: Request, exc: NotAllowed) -> Response:
        return _error(request, 403, "Not allowed", f"This needs the {exc.needed.value} role. Ask an admin.")

    @app.exception_handler(BadCsrf)
    def _bad_csrf(request: Request, _exc: BadCsrf) -> Response:
        return _error(
            request,
            403,
            "Form expired",
            "This form was not sent from an open admin page (CSRF check). Go back, reload, and try again.",
        )

    @app.exception_handler(Problem)
    def _problem(request: Request, exc: Problem) -> Response:
        return _error(request, exc.status, exc.title, exc.detail)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(str(e.get("loc", ("?",))[-1]) for e in exc.errors())
        return _error(request, 422, "Check the form", f"These fields are missing or invalid: {fields}.")

    answer_unavailable(
        app,
        lambda request: _error(
            request, 503, "Unavailable", "The database cannot be reached; nothing was changed. Try again in a moment."
        ),
    )

    @app.exception_handler(OverflowError)
    @app.exception_handler(sa.exc.DataError)
    def _out_of_range(request: Request, _exc: Exception) -> Response:
        # A number or text the database cannot hold (an id beyond 64 bits on SQLite, beyond
        # 32 on PostgreSQL; a NUL on PostgreSQL), or a date past year 9999. Nothing was written.
        return _error(request, 422, "Check the address", "A value in the request is out of range for its field.")

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> Response:
        title = "Not found" if exc.status_code == 404 else "Error"
        return _error(request, exc.status_code, title, str(exc.detail))


def validation_words(error: ValidationError) -> dict[str, str]:
    """pydantic's errors (the API's own request models) as {field: sentence}."""
    out: dict[str, str] = {}
    for item in error.errors():
        loc = [str(part) for part in item.get("loc", ())]
        field = ".".join(loc) or "_"
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        out.setdefault(field, message[0].upper() + message[1:] if message else "Invalid")
    return out


def form_values(form: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """Text fields of a form, trimmed, an empty field read as absent (None)."""
    values: dict[str, Any] = {}
    for name in names:
        raw = form.get(name)
        if isinstance(raw, str):
            values[name] = raw.strip() or None
    return values
