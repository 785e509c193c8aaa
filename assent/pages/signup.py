"""The hosted signup form `/subscribe/{business_unit_id}` and double opt-in confirmation
`/confirm/{token}` (SPEC R16, R6).

Bots: a honeypot field (a bot that fills it is thanked and nothing is written), the form's
own signed token, and database rate limits per client and per address. Confirming takes a
POST from the confirmation page: a GET (a link scanner) confirms nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from assent import i18n
from assent.actions import contact_pages, signups
from assent.domain.model import Channel
from assent.i18n import N_
from assent.pages.links import open_link, read_form
from assent.pages.web import (
    PageError,
    check_form,
    client_id,
    db_of,
    evidence_context,
    form_token,
    language_for,
    render,
    settings_of,
)
from assent.services import catalog, ratelimit
from assent.services.branding import Brand, load_brand
from assent.services.errors import Problem
from assent.services.links import Purpose
from assent.services.signups import PER_ADDRESS, PER_CLIENT

router = APIRouter(include_in_schema=False)

HONEYPOT = "website"
DEFAULT_NOTICE = N_(
    "I agree that %(company)s may send me email about the topics I chose. "
    "I can unsubscribe at any time with the link in every email."
)
DEFAULT_NOTICE_VERSION = "assent-signup-1"


def _brand(request: Request, business_unit_id: int) -> tuple[Brand, list[dict[str, Any]]]:
    with db_of(request).read() as conn:
        brand = load_brand(conn, business_unit_id)
        if brand is None:
            raise PageError(404, "no_signup", language=language_for(request))
        types = catalog.list_subscription_types(conn, business_unit_id=business_unit_id, channel=Channel.EMAIL.value)
    if not types:
        raise PageError(404, "no_signup", language=language_for(request, brand=brand), brand=brand)
    return brand, types


def _notice(brand: Brand, language: str) -> tuple[str, str]:
    own = brand.notice(language)
    if own is not None:
        return own
    return i18n.gettext(language, DEFAULT_NOTICE, company=brand.company_name), f"{DEFAULT_NOTICE_VERSION}-{language}"


def _form(
    request: Request,
    brand: Brand,
    types: list[dict[str, Any]],
    language: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    choices = [(row["id"], *i18n.localized_type(row, language)) for row in types]
    return render(
        request,
        "subscribe.html",
        language=language,
        brand=brand,
        status=status,
        choices=choices,
        notice_text=_notice(brand, language)[0],
        csrf=form_token(request, f"signup:{brand.id}"),
        action=f"/subscribe/{brand.id}?lang={language}",
        errors=errors or {},
        values=values or {"email": "", "types": set(), "consent": False},
        honeypot=HONEYPOT,
    )


@router.api_route("/subscribe/{business_unit_id}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def show(request: Request, business_unit_id: int) -> HTMLResponse:
    brand, types = _brand(request, business_unit_id)
    return _form(request, brand, types, language_for(request, brand=brand))


@router.post("/subscribe/{business_unit_id}", response_class=HTMLResponse)
async def subscribe(request: Request, business_unit_id: int) -> Response:
    form = await read_form(request)
    return await run_in_threadpool(_subscribe, request, business_unit_id, form)


def _subscribe(request: Request, business_unit_id: int, form: FormData) -> HTMLResponse:
    brand, types = _brand(request, business_unit_id)
    language = language_for(request, brand=brand)
    back = f"/subscribe/{business_unit_id}?lang={language}"
    check_form(request, form, f"signup:{business_unit_id}", language=language, brand=brand, back=back)
    if form.get(HONEYPOT):
        # A bot: it sees success, nothing is written.
        return render(request, "subscribed.html", language=language, brand=brand, confirm=False)
    email = str(form.get("email") or "").strip()[:320]
    chosen = [int(v) for v in form.getlist("type") if isinstance(v, str) and v.isdecimal() and len(v) < 12]
    values = {"email": email, "types": set(chosen), "consent": form.get("consent") == "1"}
    errors: dict[str, str] = {}
    if not chosen:
        errors["types"] = "choose"
    if form.get("consent") != "1":
        errors["consent"] = "required"
    exceeded = ratelimit.first_exceeded(
        db_of(request),
        [(PER_CLIENT, client_id(request)), (PER_ADDRESS, email.lower())],
    )
    if exceeded is not None:
        retry = str(exceeded.retry_after)
        raise PageError(429, "rate_limited", language=language, brand=brand, headers={"Retry-After": retry}, back=back)
    notice_text, notice_version = _notice(brand, language)
    if not errors:
        try:
            outcome = signups.submit_form(
                db_of(request),
                settings_of(request),
                signups.Signup(brand.id, Channel.EMAIL, email, chosen, notice_text, notice_version, language),
                evidence_context(request),
                actor_id=f"signup-page:{brand.id}",
            )
        except Problem as problem:
            field = problem.errors[0].field if problem.errors else ""
            errors["email" if field == "address" else "types"] = "invalid" if field == "address" else "choose"
        else:
            return render(
                request, "subscribed.html", language=language, brand=brand, confirm=outcome.double_opt_in
            )
    return _form(request, brand, types, language, status=422, errors=errors, values=values)


# --- double opt-in confirmation -----------------------------------------------------------


@router.api_route("/confirm/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def confirm_page(request: Request, token: str) -> HTMLResponse:
    with db_of(request).read() as conn:
        opened = open_link(request, conn, token, Purpose.CONFIRM)
    return render(
        request,
        "confirm.html",
        language=opened.language,
        brand=opened.brand,
        address=opened.address.display,
        done=False,
        csrf=form_token(request, token),
        action=f"/confirm/{token}?lang={opened.language}",
    )


@router.post("/confirm/{token}", response_class=HTMLResponse)
async def confirm(request: Request, token: str) -> Response:
    form = await read_form(request)
    return await run_in_threadpool(_confirm, request, token, form)


def _confirm(request: Request, token: str, form: FormData) -> HTMLResponse:
    with db_of(request).read() as conn:
        opened = open_link(request, conn, token, Purpose.CONFIRM)
    back = f"/confirm/{token}?lang={opened.language}"
    check_form(request, form, token, language=opened.language, brand=opened.brand, back=back)
    contact_pages.confirm(db_of(request), address=opened.address, context=evidence_context(request))
    return render(
        request, "confirm.html", language=opened.language, brand=opened.brand, address=opened.address.display, done=True
    )
