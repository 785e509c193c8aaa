"""Links for a person and the emails that carry them (SPEC R13–R15, R8). Making an address
linkable writes its `link_subjects` row, so each of these is a write transaction; the email
is composed here and queued in that same transaction (R33, `assent.mail.queue`): the worker
sends it, retrying while the mail server is down. No caller sends mail itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from assent.config import Settings
from assent.domain.addresses import Address, InvalidAddress, normalize_email
from assent.domain.model import Actor, Channel, Reason, WideOptOut
from assent.domain.rules import may_lift_wide_opt_out
from assent.mail import compose, is_local
from assent.mail.queue import Queued, enqueue
from assent.services import links, ratelimit
from assent.services.branding import Brand, load_brand
from assent.services.errors import Conflict, Invalid, Problem
from assent.services.links import RESUBSCRIBE_EMAILS, LinkTarget
from assent.services.state import Account, load_account, load_wide_opt_outs, require_business_unit
from assent.services.subscribers import known_email
from assent.services.types import check_type
from assent.storage.db import Database

__all__ = [
    "RESUBSCRIBE_EMAILS",
    "InvitationLimited",
    "TooManyRequests",
    "create_links",
    "email_preference_link",
    "invite_to_resubscribe",
    "invites_to_resubscribe",
    "send_preference_link",
]


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


class InvitationLimited(TooManyRequests):
    """R8's once a week: an invitation went to this address for this unit in the last 7
    days. Nothing was queued."""

    def __init__(self, address: Address, retry_after: int) -> None:
        super().__init__(
            "RATE_LIMITED",
            "A resubscribe email went to this address in the last 7 days.",
            extra={"retry_after": retry_after},
        )
        self.address = address
        #: when the next invitation may go (the week's window closes)
        self.next_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=retry_after)


@contextmanager
def _week_slot(db: Database, address: Address, business_unit_id: int) -> Iterator[None]:
    """Take this week's one resubscribe invitation for (address, unit) or raise
    `InvitationLimited`; the only place that takes or gives it back, whoever asks (the API's
    resubscribe email, the admin's "Send preference link").

    The count is taken first, in its own committed transaction, so two requests at once
    cannot both pass; it is given back only when the body fails, that is when nothing was
    queued. A queued invitation counts even before the mail server takes it: the worker
    delivers it (retrying while the server is down), so it is not lost."""
    value = links.resubscribe_slot(address, business_unit_id)
    exceeded = ratelimit.first_exceeded(db, [(RESUBSCRIBE_EMAILS, value)])
    if exceeded is not None:
        raise InvitationLimited(address, exceeded.retry_after)
    try:
        yield
    except BaseException:
        ratelimit.release(db, RESUBSCRIBE_EMAILS, value)  # nothing was queued: allow a retry
        raise


def _queue_invitation(
    db: Database, settings: Settings, account: Account, address: Address, business_unit_id: int, language: str | None
) -> Queued:
    """The resubscribe invitation (R8), within the week's limit, queued in its transaction (R33)."""
    with _week_slot(db, address, business_unit_id), db.write() as conn:
        brand = load_brand(conn, business_unit_id)
        assert brand is not None
        target = LinkTarget(
            links.remember(conn, account, address), business_unit_id, language or brand.default_language
        )
        message = compose.resubscribe(settings, brand, target.language, address.display, target)
        return enqueue(conn, message, local=is_local(settings))


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
    return Invitation(address, _queue_invitation(db, settings, account, address, business_unit_id, language))


@dataclass(frozen=True, slots=True)
class PreferenceMail:
    mail: Queued
    #: the person unsubscribed from all themself: the mail is the resubscribe invitation
    invitation: bool


def invites_to_resubscribe(wide: WideOptOut | None, actor: Actor) -> bool:
    """Whether a preference link from `actor` is the resubscribe invitation: the person
    unsubscribed from all themself, so only they may lift it (R8)."""
    return wide is not None and may_lift_wide_opt_out(wide, actor).reason is Reason.WIDE_OPT_OUT_SET_BY_CONTACT


def send_preference_link(
    db: Database, settings: Settings, *, address: Address, business_unit_id: int, actor: Actor
) -> PreferenceMail:
    """A user emails a person the link to their preference page for one business unit.
    When only the person may lift their "unsubscribe from all" (R8), it is the resubscribe
    invitation instead, under the same once-a-week limit as the API's (`InvitationLimited`).
    Queued in its transaction (R33)."""
    with db.read() as conn:
        account = load_account(conn)
        brand = load_brand(conn, business_unit_id)
        if brand is None:
            raise Invalid("business_unit_id", f"business unit {business_unit_id} does not exist")
        wide = load_wide_opt_outs(conn, address.channel, {address.key}, [business_unit_id]).get(
            (address.key, business_unit_id)
        )
    if invites_to_resubscribe(wide, actor):
        return PreferenceMail(_queue_invitation(db, settings, account, address, business_unit_id, None), True)
    with db.write() as conn:
        target = LinkTarget(links.remember(conn, account, address), business_unit_id, brand.default_language)
        message = compose.preference_link(settings, brand, brand.default_language, address.display, target)
        return PreferenceMail(enqueue(conn, message, local=is_local(settings)), False)


def email_preference_link(db: Database, settings: Settings, *, key: str, brand: Brand, language: str) -> Queued | None:
    """ "Get my link" (R14), after the response: a fresh link for an address Assent knows,
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
