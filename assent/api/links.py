"""`POST /api/v1/links` (R13, R15) and the resubscribe email (R8).

`links` answers the URLs a sender puts in a message, and the exact `List-Unsubscribe` /
`List-Unsubscribe-Post` header values to paste into it. It changes no state: it only makes
the address linkable (`link_subjects`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from assent.actions import links as link_actions
from assent.actions.links import TooManyRequests
from assent.api import auth
from assent.api.common import db_of
from assent.api.schemas import Strict
from assent.domain.model import Channel
from assent.services import links
from assent.services.apikeys import Principal
from assent.services.errors import Invalid

__all__ = ["TooManyRequests", "router"]

router = APIRouter(tags=["links"])


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
    esp_metadata: dict[str, Any] | None = Field(
        None,
        description="EMAIL: the type and unit, in each provider's metadata shape (SendGrid custom_args, Mailgun "
        "variables, Postmark Metadata, SES tags), so bounces, complaints and unsubscribes map back (issue 13).",
    )


@router.post("/links", response_model=LinksOut, summary="Preference and one-click unsubscribe links for an address")
def create_links(request: Request, body: LinksIn, _: Principal = Depends(auth.write)) -> dict[str, Any]:
    made = link_actions.create_links(
        db_of(request),
        request.app.state.settings,
        channel=body.channel,
        raw_address=body.address,
        business_unit_id=body.business_unit_id,
        language=links.normalize_language(body.language),
        subscription_type_id=body.subscription_type_id,
    )
    return {
        "address": made.address.display,
        "channel": body.channel,
        "business_unit_id": body.business_unit_id,
        "language": made.language,
        "subscription_type_id": body.subscription_type_id,
        **made.urls,
        "esp_metadata": links.esp_metadata(body.channel, body.business_unit_id, body.subscription_type_id),
    }


class ResubscribeIn(Strict):
    business_unit_id: int = 0
    language: Language | None = None


class ResubscribeOut(BaseModel):
    address: str
    channel: Channel
    business_unit_id: int
    sent: bool = Field(
        description="already delivered (the local outbox, without ASSENT_SMTP_URL); otherwise the worker sends it"
    )
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
    business unit every 7 days. The email is queued in the deciding transaction (R33) and
    sent by the worker: a mail server that is down delays it, never loses it."""
    body = body or ResubscribeIn()
    if channel is not Channel.EMAIL:
        raise Invalid("channel", "a resubscribe email needs an EMAIL address", "EMAIL_ONLY")
    db = db_of(request)
    invitation = link_actions.invite_to_resubscribe(
        db,
        request.app.state.settings,
        raw_address=address,
        business_unit_id=body.business_unit_id,
        language=links.normalize_language(body.language),
    )
    return {
        "address": invitation.address.display,
        "channel": channel,
        "business_unit_id": body.business_unit_id,
        "sent": invitation.mail.sent,
        "queued": True,
    }
