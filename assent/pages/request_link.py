""""Get my preference link", `/preferences` (SPEC R14).

A person enters their email address and a fresh preference link is emailed to it. The
answer is the same page whether or not Assent knows the address: the lookup, the link and
the email all happen after the response is sent, so not even its timing tells. Only known
addresses get mail (Assent does not write to strangers). Requests are limited per address
and per client, in the database.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from assent.actions import links
from assent.config import Settings
from assent.domain.addresses import InvalidAddress, normalize_email
from assent.pages.links import read_form
from assent.pages.web import (
    PageError,
    check_form,
    client_id,
    db_of,
    form_token,
    language_for,
    render,
    settings_of,
)
from assent.services import ratelimit
from assent.services.branding import Brand, load_brand
from assent.services.ratelimit import Limit
from assent.storage.db import Database

router = APIRouter(include_in_schema=False)

PER_ADDRESS = Limit("link-address", 3, dt.timedelta(hours=1))
PER_CLIENT = Limit("link-client", 10, dt.timedelta(hours=1))
HONEYPOT = "website"
FORM = "request-link"


def _brand(request: Request, raw: object) -> Brand:
    bu_id = int(raw) if isinstance(raw, str) and raw.isdecimal() and len(raw) < 10 else 0
    with db_of(request).read() as conn:
        brand = load_brand(conn, bu_id) or load_brand(conn, 0)
    assert brand is not None  # business unit 0 always exists
    return brand


def _form(request: Request, brand: Brand, language: str, *, status: int = 200, error: str | None = None,
          email: str = "") -> HTMLResponse:
    return render(
        request,
        "request_link.html",
        language=language,
        brand=brand,
        status=status,
        csrf=form_token(request, FORM),
        action=f"/preferences?lang={language}",
        business_unit_id=brand.id,
        error=error,
        email=email,
        honeypot=HONEYPOT,
    )


@router.api_route("/preferences", methods=["GET", "HEAD"], response_class=HTMLResponse)
def show(request: Request) -> HTMLResponse:
    brand = _brand(request, request.query_params.get("business_unit_id"))
    return _form(request, brand, language_for(request, brand=brand))


@router.post("/preferences", response_class=HTMLResponse)
async def request_link(request: Request, background: BackgroundTasks) -> Response:
    form = await read_form(request)
    return await run_in_threadpool(_request, request, form, background)


def _request(request: Request, form: FormData, background: BackgroundTasks) -> HTMLResponse:
    brand = _brand(request, form.get("business_unit_id"))
    language = language_for(request, brand=brand)
    back = f"/preferences?business_unit_id={brand.id}&lang={language}"
    check_form(request, form, FORM, language=language, brand=brand, back=back)
    sent = render(request, "link_sent.html", language=language, brand=brand, back=back)
    if form.get(HONEYPOT):
        return sent
    raw = str(form.get("email") or "").strip()[:320]
    try:
        address = normalize_email(raw)
    except InvalidAddress:
        return _form(request, brand, language, status=422, error="invalid", email=raw)
    exceeded = ratelimit.first_exceeded(
        db_of(request), [(PER_CLIENT, client_id(request)), (PER_ADDRESS, address.key)]
    )
    if exceeded is not None:
        retry = str(exceeded.retry_after)
        raise PageError(429, "rate_limited", language=language, brand=brand, headers={"Retry-After": retry}, back=back)
    background.add_task(
        send_link, db_of(request), settings_of(request), address.key, brand, language
    )
    return sent


def send_link(db: Database, settings: Settings, key: str, brand: Brand, language: str) -> None:
    """After the response (so that its time does not tell whether the address is known):
    queue a fresh link for an address Assent knows; the worker sends it (R33)."""
    links.email_preference_link(db, settings, key=key, brand=brand, language=language)
