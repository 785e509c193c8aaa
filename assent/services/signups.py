"""Signups through a form (SPEC R16, R6): the hosted page `/subscribe/{bu}` and
`POST /api/v1/form-submissions` both come here.

A signup is the person's own opt-in (source FORM, a CONTACT act) evidenced by the notice
they saw. With double opt-in on, `subscribers.change_statuses` leaves the address PENDING
and we email a confirmation link. A signup does not lift an "unsubscribe from all" the
person set (anyone can type an address into a form); instead the person gets the
resubscribe email, whose link lets only them lift it (R8).

The interfaces pass `mail`, which composes the email the outcome names
(`assent.mail.compose.follow_up`) and queues it in the deciding transaction (R33); they send
it after commit (`assent.mail.queue.deliver_now`), and the worker retries what did not go out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.addresses import Address
from assent.domain.model import Actor, Channel, ConfirmationState, Evidence, Source, Status
from assent.services import links, subscribers
from assent.services.changes import ChangeResult
from assent.services.errors import Collected
from assent.services.ledger import RequestContext
from assent.services.links import LinkTarget
from assent.services.ratelimit import Limit
from assent.services.state import SubscriptionType, load_account, load_types, require_business_unit
from assent.storage import tables as t
from assent.storage.db import Database

PER_CLIENT = Limit("signup-client", 20, dt.timedelta(hours=1))
PER_ADDRESS = Limit("signup-address", 5, dt.timedelta(hours=1))

FollowUp = Literal["confirm", "resubscribe"]


@dataclass(frozen=True, slots=True)
class Signup:
    business_unit_id: int
    channel: Channel
    address: str
    subscription_type_ids: Sequence[int]
    notice_text: str | None
    notice_version: str | None
    language: str | None


@dataclass(frozen=True, slots=True)
class SignupOutcome:
    address: Address
    results: list[ChangeResult]
    #: the email the person gets next, if any
    follow_up: FollowUp | None
    target: LinkTarget
    #: whether the business unit asks for confirmation (what a page may say without
    #: revealing this address's own state)
    double_opt_in: bool
    #: the queued follow-up email (`assent.mail.queue`), to send after commit
    mail_id: int | None = None


#: Composes the follow-up email and queues it in the given transaction; returns its id.
QueueMail = Callable[[Connection, FollowUp, Address, LinkTarget], int | None]


def submit(
    db: Database, signup: Signup, context: RequestContext, actor_id: str | None, mail: QueueMail | None = None
) -> SignupOutcome:
    """Opt the person in to the chosen types, or a 422 naming the field (nothing written)."""
    with db.read() as conn:
        require_business_unit(conn, signup.business_unit_id)
        bu = t.business_units
        unit = conn.execute(
            sa.select(bu.c.default_language, bu.c.notice_text, bu.c.notice_version).where(
                bu.c.id == signup.business_unit_id
            )
        ).one()
        _check_types(load_types(conn, set(signup.subscription_type_ids)), signup)
    # The notice the person saw: the form's own, or else the business unit's.
    given = (signup.notice_text or "").strip()
    notice_text = given or (unit.notice_text or "").strip() or None
    notice_version = signup.notice_version if given else unit.notice_version
    address, results = subscribers.change_statuses(
        db,
        channel=signup.channel,
        raw_address=signup.address,
        changes=[
            subscribers.RequestedChange(type_id, Status.SUBSCRIBED)
            for type_id in dict.fromkeys(signup.subscription_type_ids)
        ],
        actor=Actor(Source.FORM, actor_id),
        evidence=Evidence(notice_text=notice_text, notice_version=notice_version),
        context=context,
    )
    with db.write() as conn:
        account = load_account(conn)
        address_hash = links.remember(conn, account, address)
        a, w = t.addresses, t.wide_opt_outs
        confirmation = conn.execute(
            sa.select(a.c.confirmation).where(a.c.address == address.key, a.c.channel == address.channel.value)
        ).scalar()
        wide = conn.execute(
            sa.select(w.c.set_by).where(
                w.c.address == address.key,
                w.c.channel == address.channel.value,
                w.c.business_unit_id == signup.business_unit_id,
            )
        ).first()
        follow_up: FollowUp | None = None
        if address.channel is Channel.EMAIL:
            if wide is not None:
                follow_up = "resubscribe"
            elif confirmation == ConfirmationState.PENDING.value:
                follow_up = "confirm"
        language = signup.language or unit.default_language or "en"
        target = LinkTarget(address_hash, signup.business_unit_id, language)
        # The email is queued in the transaction that decides to send it (R33).
        mail_id = mail(conn, follow_up, address, target) if mail is not None and follow_up else None
    double_opt_in = account.policy.double_opt_in_for(signup.business_unit_id)
    return SignupOutcome(address, results, follow_up, target, double_opt_in, mail_id)


def _check_types(known: dict[int, SubscriptionType], signup: Signup) -> None:
    problems = Collected()
    if not signup.subscription_type_ids:
        problems.add("subscription_type_ids", "choose at least one subscription type", "NO_SUBSCRIPTION_TYPE")
    for index, type_id in enumerate(signup.subscription_type_ids):
        found = known.get(type_id)
        where = f"subscription_type_ids[{index}]"
        if found is None:
            problems.add(where, f"subscription type {type_id} does not exist", "UNKNOWN_SUBSCRIPTION_TYPE")
        elif found.business_unit_id != signup.business_unit_id or found.channel is not signup.channel:
            problems.add(
                where,
                f"subscription type {type_id} is not a {signup.channel.value} type of business unit "
                f"{signup.business_unit_id}",
                "WRONG_SUBSCRIPTION_TYPE",
            )
        elif not found.is_active:
            problems.add(where, f"subscription type {type_id} is archived", "TYPE_INACTIVE")
    problems.raise_if_any()
