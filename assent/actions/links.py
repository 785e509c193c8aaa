"""Links for a person and the emails that carry them (SPEC R13–R15, R8). Making an address
linkable writes its `link_subjects` row, so each of these is a write transaction; the email
is composed here and queued in that same transaction (R33, `assent.mail.queue`): the worker
sends it, retrying while the mail server is down. No caller sends mail itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from assent.config import Settings
from assent.domain.addresses import Address, InvalidAddress, normalize_email
from assent.domain.model import Actor, Channel, Reason
from assent.domain.rules import may_lift_wide_opt_out
from assent.mail import compose, is_local
from assent.mail.queue import Queued, enqueue
from assent.services import links, ratelimit
from assent.services.branding import Brand, load_brand
from assent.services.errors import Conflict, Invalid, Problem
from assent.services.links import LinkTarget
from assent.services.ratelimit import Limit
from assent.services.state import load_account, load_wide_opt_outs, require_business_unit
from assent.services.subscribers import known_email
from assent.services.types import check_type
from assent.storage.db import Database

#: a person who unsubscribed from everything hears about it at most this often
RESUBSCRIBE_EMAILS = Limit("resubscribe-email", 1, dt.timedelta(days=7))


class TooManyRequests(Problem):
    status = 429
    title = "Too many requests"


@dataclass(frozen=True, slots=True)
class Links:
    address: Address
    language: str
    target: LinkTarget
    #: everything `POST /api/v1/links` answers besides the above (services.links.bundle)
    urls: dict[str, Any]


def create_links(
    db: Database,
    settings: Settings,
    *,
    channel: Channel,
    raw_address: str,
    business_unit_id: int,
    language: str | None,
    subscription_type_id: int | None,
) -> Links:
    """The URLs and `List-Unsubscribe` headers a sender puts in a message. Changes no
    state; only makes the address linkable."""
    with db.write() as conn:
        account = load_account(conn)
        address = account.normalize(channel, raw_address)
        require_business_unit(conn, business_unit_id)
        if subscription_type_id is not None:
            check_type(conn, subscription_type_id, channel, business_unit_id)
        brand = load_brand(conn, business_unit_id)
        assert brand is not None
        chosen = language or brand.default_language
        target = LinkTarget(links.remember(conn, account, address), business_unit_id, chosen, subscription_type_id)
    return Links(address, chosen, target, links.bundle(links.urls_for(settings), target, channel))


@dataclass(frozen=True, slots=True)
class Invitation:
    address: Address
    #: the queued invitation (`sent` already when the local outbox kept it)
    mail: Queued


def invite_to_resubscribe(
    db: Database, settings: Settings, *, raw_address: str, business_unit_id: int, language: str | None
) -> Invitation:
    """R8: email a person who unsubscribed from all a link to their preference center, where
    only they can lift it (with a second confirmation). At most one per address and business
    unit every 7 days: 409 when nothing is to lift, 429 within the week."""
    with db.read() as conn:
        account = load_account(conn)
        address = account.normalize(Channel.EMAIL, raw_address)
        require_business_unit(conn, business_unit_id)
        wide = load_wide_opt_outs(conn, Channel.EMAIL, {address.key}, [business_unit_id])
    if not wide:
        raise Conflict(
            "NOT_UNSUBSCRIBED_FROM_ALL",
            f"{address.display} is not unsubscribed from all email of business unit {business_unit_id}.",
        )
    limit_key = f"{address.key}:{business_unit_id}"
    exceeded = ratelimit.first_exceeded(db, [(RESUBSCRIBE_EMAILS, limit_key)])
    if exceeded is not None:
        raise TooManyRequests(
            "RATE_LIMITED",
            "A resubscribe email went to this address in the last 7 days.",
            extra={"retry_after": exceeded.retry_after},
        )
    # The week's count is taken above, in its own transaction; it is given back only when
    # nothing was queued. A queued invitation counts even before the mail server takes it:
    # the worker delivers it (retrying while the server is down), so it is not lost.
    try:
        with db.write() as conn:
            brand = load_brand(conn, business_unit_id)
            assert brand is not None
            target = LinkTarget(
                links.remember(conn, account, address), business_unit_id, language or brand.default_language
            )
            message = compose.resubscribe(settings, brand, target.language, address.display, target)
            queued = enqueue(conn, message, local=is_local(settings))
    except Exception:
        ratelimit.release(db, RESUBSCRIBE_EMAILS, limit_key)  # nothing was queued: allow a retry
        raise
    return Invitation(address, queued)


@dataclass(frozen=True, slots=True)
class PreferenceMail:
    mail: Queued
    #: the person unsubscribed from all themself: the mail is the resubscribe invitation
    invitation: bool


def send_preference_link(
    db: Database, settings: Settings, *, address: Address, business_unit_id: int, actor: Actor
) -> PreferenceMail:
    """A user emails a person the link to their preference page for one business unit.
    When only the person may lift their "unsubscribe from all" (R8), it is the resubscribe
    invitation instead. Queued in this transaction (R33)."""
    with db.write() as conn:
        account = load_account(conn)
        brand = load_brand(conn, business_unit_id)
        if brand is None:
            raise Invalid("business_unit_id", f"business unit {business_unit_id} does not exist")
        wide = load_wide_opt_outs(conn, address.channel, {address.key}, [business_unit_id]).get(
            (address.key, business_unit_id)
        )
        target = LinkTarget(links.remember(conn, account, address), business_unit_id, brand.default_language)
        invitation = (
            wide is not None and may_lift_wide_opt_out(wide, actor).reason is Reason.WIDE_OPT_OUT_SET_BY_CONTACT
        )
        make = compose.resubscribe if invitation else compose.preference_link
        message = make(settings, brand, brand.default_language, address.display, target)
        queued = enqueue(conn, message, local=is_local(settings))
    return PreferenceMail(queued, invitation)


def email_preference_link(
    db: Database, settings: Settings, *, key: str, brand: Brand, language: str
) -> Queued | None:
    """"Get my link" (R14), after the response: a fresh link for an address Assent knows,
    queued in this transaction (R33), or None (Assent does not write to strangers)."""
    with db.write() as conn:
        display = known_email(conn, key)
        if display is None:
            return None
        account = load_account(conn)
        try:
            address = normalize_email(display)
        except InvalidAddress:
            return None
        target = LinkTarget(links.remember(conn, account, address), brand.id, language)
        message = compose.preference_link(settings, brand, language, address.display, target)
        return enqueue(conn, message, local=is_local(settings))
