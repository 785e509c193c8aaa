"""`submit_form`: a signup through a form (SPEC R16, R6) — the hosted page
`/subscribe/{bu}` and `POST /api/v1/form-submissions` both come here.

A signup is the person's own opt-in (source FORM, a CONTACT act) evidenced by the notice
they saw. With double opt-in on, the address is left PENDING and the outcome carries the
confirmation email. A signup never lifts an "unsubscribe from all" the person set (anyone
can type an address into a form; R8): the person gets the resubscribe email instead, whose
link lets only them lift it. That email, and the signed consent receipts of the opt-ins when
the business unit sends them (issue 17), are queued in the signup's own transaction (R33,
`assent.mail.queue`) and sent by the worker: no caller sends mail itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from assent.config import Settings
from assent.domain.addresses import Address
from assent.domain.model import Actor, Channel, ConfirmationState, Evidence, Source, Status
from assent.domain.rules import EVIDENCE_REASONS, starts_double_opt_in
from assent.mail import compose, is_local
from assent.mail.queue import Queued, enqueue
from assent.mail.receipts import receipt_message
from assent.services import contacts, links, workflows
from assent.services.branding import load_brand
from assent.services.changes import ChangeResult, Writer
from assent.services.errors import Collected, Invalid
from assent.services.evidence import evidence_problem
from assent.services.ledger import RequestContext
from assent.services.links import LinkTarget
from assent.services.receipts import last_event_id
from assent.services.state import load_account, load_address_facts, load_wide_opt_outs
from assent.services.types import check_types
from assent.storage.db import Database

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
    #: the follow-up email, queued in the signup's transaction
    mail: Queued | None


def submit_form(
    db: Database, settings: Settings, signup: Signup, context: RequestContext, actor_id: str | None
) -> SignupOutcome:
    """Opt the person in to the chosen types, or a 422 naming the field (nothing written)."""
    channel, bu_id = signup.channel, signup.business_unit_id
    with db.write() as conn:
        before = last_event_id(conn)
        brand = load_brand(conn, bu_id)
        if brand is None:
            raise Invalid("business_unit_id", f"business unit {bu_id} does not exist", "UNKNOWN_BUSINESS_UNIT")
        problems = Collected()
        if not signup.subscription_type_ids:
            problems.add("subscription_type_ids", "choose at least one subscription type", "NO_SUBSCRIPTION_TYPE")
        ids = list(dict.fromkeys(signup.subscription_type_ids))
        known = check_types(
            conn,
            list(signup.subscription_type_ids),
            lambda i: f"subscription_type_ids[{i}]",
            channel,
            bu_id,
            active_only=True,
            problems=problems,
        )
        problems.raise_if_any()
        account = load_account(conn)
        address = account.normalize(channel, signup.address)
        # The notice the person saw: the form's own, or else the business unit's.
        given = (signup.notice_text or "").strip()
        own = brand.notice(signup.language or brand.default_language)
        notice_text = given or (own[0] if own else None)
        notice_version = signup.notice_version if given else (own[1] if own else None)
        actor = Actor(Source.FORM, actor_id)
        writer = Writer(db, conn, account, actor, Evidence(notice_text=notice_text, notice_version=notice_version),
                        context)
        [results] = writer.change_statuses(channel, [(address, [(known[i], Status.SUBSCRIBED) for i in ids])])
        missing = [r.reason for r in results if r.reason in EVIDENCE_REASONS]
        if missing and missing[0] is not None:
            raise evidence_problem(missing[0])
        if any(
            starts_double_opt_in(
                source=actor.source, channel=channel, outcome=r.outcome, target=Status.SUBSCRIBED,
                business_unit_id=bu_id, policy=account.policy,
            )
            for r in results
        ):
            writer.set_confirmation(address, ConfirmationState.PENDING)
        address_hash = links.remember(conn, account, address)
        # A signup is a contact's (R23): the address gets one if it has none, and workflows
        # triggered by the form (or by the contact's creation) enroll it in this transaction.
        contact_id, _ = contacts.contact_for(conn, account, address)
        workflows.enroll_on_form(conn, contact_id, bu_id)
        facts = load_address_facts(conn, channel, {address.key}).get(address.key)
        wide = load_wide_opt_outs(conn, channel, {address.key}, [bu_id]).get((address.key, bu_id))
        follow_up: FollowUp | None = None
        if channel is Channel.EMAIL:
            if wide is not None:
                follow_up = "resubscribe"
            elif facts is not None and facts.confirmation is ConfirmationState.PENDING:
                follow_up = "confirm"
        target = LinkTarget(address_hash, bu_id, signup.language or brand.default_language or "en")
        # Queued in the transaction that decides to send it (R33). The resubscribe invitation
        # is the week's one for the address and unit, as when the API or the admin sends it:
        # anyone can type an address into a form, and must not be able to mail a person who
        # unsubscribed from all again and again (the form answers the same either way).
        sending = follow_up
        if follow_up == "resubscribe" and not links.take_invitation_slot(conn, account, address, bu_id):
            sending = None
        message = compose.follow_up(settings, brand, sending, address.display, target)
        mail = enqueue(conn, message, local=is_local(settings)) if message is not None else None
        receipt = receipt_message(
            conn, settings, target=target, to=address.display, source=Source.FORM.value, after_id=before, brand=brand
        )
        if receipt is not None:
            enqueue(conn, receipt, local=is_local(settings))
    return SignupOutcome(address, results, follow_up, target, account.policy.double_opt_in_for(bu_id), mail)
