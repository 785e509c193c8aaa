"""One-click unsubscribe, `/unsubscribe/{token}`, exactly per RFC 8058 (SPEC R15).

- POST with `List-Unsubscribe=One-Click` (form-encoded or multipart, other fields ignored)
  unsubscribes the message's own type — or, for an unsubscribe-all link, sets the wide
  opt-out — and answers 200 with a page. No redirect, and no cookie, login or CSRF token:
  the mailbox provider posting it has none, and the signed URL is the authority (§3.1, §6).
  A repeat finds nothing to change (R3) and answers the same.
- GET never changes anything (link scanners fetch every URL in a message): it says what the
  button will do, and links to the full preference center.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from assent import i18n
from assent.actions import contact_pages
from assent.pages.links import Opened, open_link, read_form
from assent.pages.web import PageError, db_of, evidence_context, paths, render
from assent.services import catalog
from assent.services.links import Purpose
from assent.services.state import SubscriptionType, load_types
from assent.services.types import type_problem

router = APIRouter(include_in_schema=False)

_PURPOSES = (Purpose.UNSUBSCRIBE, Purpose.UNSUBSCRIBE_ALL)


def _type_of(conn: Connection, opened: Opened) -> tuple[SubscriptionType | None, str | None]:
    """The link's type and its name in the page's language (None, None for a wide link)."""
    type_id = opened.target.subscription_type_id
    if opened.purpose is Purpose.UNSUBSCRIBE_ALL or type_id is None:
        return None, None
    found = load_types(conn, [type_id]).get(type_id)
    if found is None or type_problem(found, type_id, opened.address.channel, opened.brand.id) is not None:
        raise PageError(404, "bad_link", language=opened.language, brand=opened.brand)
    name, _ = i18n.localized_type(catalog.get_subscription_type(conn, type_id), opened.language)
    return found, name


def _render(request: Request, opened: Opened, type_name: str | None, *, done: bool) -> HTMLResponse:
    return render(
        request,
        "unsubscribe.html",
        language=opened.language,
        brand=opened.brand,
        address=opened.address.display,
        channel=opened.address.channel.value,
        type_name=type_name,
        done=done,
        action=f"/unsubscribe/{opened.token}?lang={opened.language}",
        preferences_url=paths(request).preferences(opened.target) + f"?lang={opened.language}",
    )


@router.api_route("/unsubscribe/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def show(request: Request, token: str) -> HTMLResponse:
    with db_of(request).read() as conn:
        opened = open_link(request, conn, token, *_PURPOSES)
        _, type_name = _type_of(conn, opened)
    return _render(request, opened, type_name, done=False)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
async def one_click(request: Request, token: str) -> Response:
    form = await read_form(request)
    return await run_in_threadpool(_unsubscribe, request, token, form)


def _unsubscribe(request: Request, token: str, form: FormData) -> HTMLResponse:
    db = db_of(request)
    with db.read() as conn:
        opened = open_link(request, conn, token, *_PURPOSES)
        value = form.get("List-Unsubscribe")
        if not isinstance(value, str) or value.strip().lower() != "one-click":
            raise PageError(400, "not_one_click", language=opened.language, brand=opened.brand)
        type_, type_name = _type_of(conn, opened)
    contact_pages.one_click(
        db, address=opened.address, business_unit_id=opened.brand.id, type_=type_, context=evidence_context(request)
    )
    return _render(request, opened, type_name, done=True)
