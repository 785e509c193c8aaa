"""`POST /api/v1/links` (R13, R15) and the resubscribe email (R8).

`links` answers the URLs a sender puts in a message, and the exact `List-Unsubscribe` /
`List-Unsubscribe-Post` header values to paste into it. It changes no state: it only makes
the address linkable (`link_subjects`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from assent.api import auth
from assent.api.common import db_of
from assent.api.schemas import Strict
from assent.domain.model import Channel
from assent.mail import Mailer, compose
from assent.mail.queue import deliver_now, enqueue
from assent.pages.branding import load_brand
from assent.services import links, ratelimit
from assent.services.apikeys import Principal
from assent.services.errors import Conflict, Invalid, Problem
from assent.services.links import LinkTarget
from assent.services.ratelimit import Limit
from assent.services.state import load_account, load_type, require_business_unit
from assent.storage import tables as t

router = APIRouter(tags=["links"])

#: a person who unsubscribed from everything hears about it at most this often
RESUBSCRIBE_EMAILS = Limit("resubscribe-email", 1, dt.timedelta(days=7))

class TooManyRequests(Problem):
    status = 429
    title = "Too many requests"


Language = Annotated[str, Field(max_length=35, examples=["en", "sv"])]


class LinksIn(Strict):
    channel: Channel = Channel.EMAIL
    address: Annotated[str, Field(max_length=320)]
    business_unit_id: int = 0
    language: Language | None = Field(None, description="The page's language; default: the business unit's.")
    subscription_type_id: int | None = Field(
        None, description="The message's type: one-click unsubscribes from it alone. Without it, from all."
    )


class LinksOut(BaseModel):
    address: str
    channel: Channel
    business_unit_id: int
    language: str
    subscription_type_id: int | None
    preferences_url: str
    unsubscribe_all_url: str
    unsubscribe_url: str | None = Field(description="One-click unsubscribe from the message's type (RFC 8058).")
    list_unsubscribe: str | None = Field(description="The List-Unsubscribe header value (EMAIL only).")
    list_unsubscribe_post: str | None = Field(description="The List-Unsubscribe-Post header value (EMAIL only).")
    headers: dict[str, str] | None = Field(description="Both headers, ready to add to a message.")


@router.post("/links", response_model=LinksOut, summary="Preference and one-click unsubscribe links for an address")
def create_links(request: Request, body: LinksIn, _: Principal = Depends(auth.write)) -> dict[str, Any]:
    language = links.normalize_language(body.language)
    with db_of(request).write() as conn:
        account = load_account(conn)
        address = account.normalize(body.channel, body.address)
        require_business_unit(conn, body.business_unit_id)
        if body.subscription_type_id is not None:
            found = load_type(conn, body.subscription_type_id)
            if found.channel is not body.channel or found.business_unit_id != body.business_unit_id:
                raise Invalid(
                    "subscription_type_id",
                    f"subscription type {found.id} is not a {body.channel.value} type of business unit "
                    f"{body.business_unit_id}",
                    "WRONG_SUBSCRIPTION_TYPE",
                )
        language = language or _default_language(conn, body.business_unit_id)
        target = LinkTarget(
            links.remember(conn, account, address), body.business_unit_id, language, body.subscription_type_id
        )
    return {
        "address": address.display,
        "channel": body.channel,
        "business_unit_id": body.business_unit_id,
        "language": language,
        "subscription_type_id": body.subscription_type_id,
        **links.bundle(links.urls_for(request.app.state.settings), target, body.channel),
    }


def _default_language(conn: sa.Connection, business_unit_id: int) -> str:
    bu = t.business_units
    found = conn.execute(sa.select(bu.c.default_language).where(bu.c.id == business_unit_id)).scalar()
    return str(found or "en")


class ResubscribeIn(Strict):
    business_unit_id: int = 0
    language: Language | None = None


class ResubscribeOut(BaseModel):
    address: str
    channel: Channel
    business_unit_id: int
    sent: bool = Field(description="the mail server took it already; if not, the worker retries it")
    queued: bool = Field(description="the email is in the mail queue (always true): it is not lost")


@router.post(
    "/subscribers/{channel}/{address}/resubscribe-email",
    response_model=ResubscribeOut,
    status_code=202,
    tags=["subscribers"],
    summary="Invite a person who unsubscribed from all to opt back in themself (R8)",
)
def resubscribe_email(
    request: Request,
    channel: Channel,
    address: str,
    body: ResubscribeIn | None = None,
    _: Principal = Depends(auth.write),
) -> dict[str, Any]:
    """Emails the person a link to their preference center, where only they can lift the
    "unsubscribe from all" (with a second confirmation). At most one per address and
    business unit every 7 days."""
    body = body or ResubscribeIn()
    if channel is not Channel.EMAIL:
        raise Invalid("channel", "a resubscribe email needs an EMAIL address", "EMAIL_ONLY")
    language = links.normalize_language(body.language)
    db = db_of(request)
    with db.read() as conn:
        account = load_account(conn)
        normalized = account.normalize(channel, address)
        require_business_unit(conn, body.business_unit_id)
        w = t.wide_opt_outs
        wide = conn.execute(
            sa.select(w.c.set_by).where(
                w.c.address == normalized.key,
                w.c.channel == channel.value,
                w.c.business_unit_id == body.business_unit_id,
            )
        ).first()
    if wide is None:
        raise Conflict(
            "NOT_UNSUBSCRIBED_FROM_ALL",
            f"{normalized.display} is not unsubscribed from all email of business unit {body.business_unit_id}.",
        )
    limit_key = f"{normalized.key}:{body.business_unit_id}"
    exceeded = ratelimit.first_exceeded(db, [(RESUBSCRIBE_EMAILS, limit_key)])
    if exceeded is not None:
        raise TooManyRequests(
            "RATE_LIMITED",
            "A resubscribe email went to this address in the last 7 days.",
            extra={"retry_after": exceeded.retry_after},
        )
    settings = request.app.state.settings
    with db.write() as conn:
        brand = load_brand(conn, body.business_unit_id)
        assert brand is not None
        target = LinkTarget(
            links.remember(conn, account, normalized), body.business_unit_id, language or brand.default_language
        )
        # Queued in the transaction that decides to send it (R33): a mail server that is down
        # delays the email (the worker retries it), it does not lose it.
        message = compose.resubscribe(settings, brand, target.language, normalized.display, target)
        mail_id = enqueue(conn, message)
    mailer: Mailer = request.app.state.mailer
    sent = deliver_now(db, mailer, mail_id, retry_base_seconds=settings.mail_retry_base_seconds)
    return {
        "address": normalized.display,
        "channel": channel,
        "business_unit_id": body.business_unit_id,
        "sent": sent,
        "queued": True,
    }
