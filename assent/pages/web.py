"""What every public page shares: rendering with the right language and branding, security
headers, session-less CSRF tokens, friendly error pages and the request's evidence."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from assent import i18n
from assent.config import Settings
from assent.mail import Mailer
from assent.services.branding import Brand
from assent.services.ledger import RequestContext
from assent.services.links import Signer, Urls
from assent.storage.db import Database
from assent.unavailable import answer_unavailable

#: how long a form stays good after the page was served
FORM_MAX_AGE = 24 * 3600


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def mailer_of(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


def signer_of(request: Request) -> Signer:
    return Signer.from_settings(settings_of(request))


def paths(request: Request) -> Urls:
    """Links as paths on the host that served this page (the page's own links)."""
    return Urls("", signer_of(request))


def evidence_context(request: Request) -> RequestContext:
    """R24: the truncated IP address and the user agent."""
    ip = request.client.host if request.client else None
    return RequestContext.from_client(ip, request.headers.get("user-agent"))


def client_id(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class PageError(Exception):
    """Ends a page request with a friendly, localized page (never a stack trace)."""

    def __init__(
        self,
        status: int,
        kind: str,
        *,
        language: str | None = None,
        brand: Brand | None = None,
        headers: dict[str, str] | None = None,
        back: str | None = None,
    ) -> None:
        super().__init__(kind)
        self.status = status
        self.kind = kind
        self.language = language
        self.brand = brand
        self.headers = headers or {}
        self.back = back


def language_for(request: Request, *, link: str | None = None, brand: Brand | None = None) -> str:
    return i18n.choose(
        explicit=request.query_params.get("lang"),
        link=link,
        business_unit=brand.default_language if brand else None,
        accept=request.headers.get("accept-language"),
    )


def render(
    request: Request,
    template: str,
    *,
    language: str,
    brand: Brand | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    env = i18n.environment("assent.pages", language)

    def lang_url(code: str) -> str:
        query = {k: v for k, v in request.query_params.items() if k not in ("lang", "saved", "done")}
        query["lang"] = code
        return f"{request.url.path}?{urlencode(query)}"

    html = env.get_template(template).render(
        brand=brand,
        nonce=nonce,
        languages=i18n.languages(language),
        lang_url=lang_url,
        static=lambda path: f"/static/pages/{path}",
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=headers)
    secure(response, nonce)
    return response


def secure(response: Response, nonce: str | None = None) -> None:
    """Headers for pages whose URL is a bearer token: never cached, indexed, framed, or
    leaked to a third party (a brand's logo host) through Referer."""
    style = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src {style}; img-src 'self' https: http: data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"


# --- CSRF: a token bound to the page's own link (or form), signed, time-limited -----------


def form_token(request: Request, bound_to: str) -> str:
    return signer_of(request).form_token(bound_to)


def check_form(request: Request, form: Any, bound_to: str, *, language: str, brand: Brand | None, back: str) -> None:
    """Refuse a cross-site post (Fetch Metadata) or one without this page's own token."""
    cross_site = request.headers.get("sec-fetch-site") == "cross-site"
    token = form.get("csrf")
    valid = isinstance(token, str) and signer_of(request).check_form_token(bound_to, token, FORM_MAX_AGE)
    if cross_site or not valid:
        raise PageError(403, "form_expired", language=language, brand=brand, back=back)


def install(app: FastAPI) -> None:
    app.add_exception_handler(PageError, _page_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    answer_unavailable(app, lambda request: _page_error(request, PageError(503, "unavailable")))


def body_too_large(scope: Scope, _limit: int) -> HTMLResponse:
    """The root body limit's 413 (assent/bodylimit.py) as a localized page: "we could not
    read what was sent; nothing has been changed"."""
    return _page_error(Request(scope), PageError(413, "bad_request"))


def _http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
    """An unknown path (or method) on the public host: a friendly page, not JSON."""
    kind = "not_found" if exc.status_code == 404 else "bad_request"
    return _page_error(request, PageError(exc.status_code, kind, headers=dict(exc.headers or {})))


def _page_error(request: Request, exc: PageError) -> HTMLResponse:
    language = exc.language or language_for(request, brand=exc.brand)
    return render(
        request,
        "error.html",
        language=language,
        brand=exc.brand,
        status=exc.status,
        headers=exc.headers,
        kind=exc.kind,
        back=exc.back,
    )
