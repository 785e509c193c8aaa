"""What a person does on their own pages (SPEC R13–R16): one-click unsubscribe, Save in the
preference center, confirming their address. Every change is the contact's own act
(CONTACT-class sources), with the request's truncated IP and user agent (R24).

The pages open and check the signed link in a read transaction first; each function here
is then one write transaction that reads the state it judges inside it.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from email.message import EmailMessage

from assent.config import Settings
from assent.domain.addresses import Address
from assent.domain.model import Actor, ConfirmationState, Evidence, Outcome, Source, Status
from assent.mail import is_local
from assent.mail.queue import enqueue
from assent.mail.receipts import receipt_message
from assent.services.changes import Writer
from assent.services.ledger import RequestContext
from assent.services.links import LinkTarget
from assent.services.preferences import load_preferences
from assent.services.receipts import last_event_id
from assent.services.state import SubscriptionType, load_account, load_types
from assent.storage.db import Database


def one_click(
    db: Database, *, address: Address, business_unit_id: int, type_: SubscriptionType | None, context: RequestContext
) -> None:
    """RFC 8058 (R15): unsubscribe from the link's type, or — without one — from all of the
    business unit's channel. A repeat finds nothing to change (R3)."""
    with db.write() as conn:
        writer = Writer(db, conn, load_account(conn), Actor(Source.ONE_CLICK), context=context)
        if type_ is None:
            writer.set_wide_opt_out(address.channel, [address], business_unit_id)
        else:
            writer.change_statuses(address.channel, [(address, [(type_, Status.UNSUBSCRIBED)])])


@dataclass(frozen=True, slots=True)
class Choices:
    """What the person's Save posted."""

    shown: Set[int]  # the types the page showed (a type added since is left alone)
    ticked: Set[int]
    unsubscribe_all: bool
    #: the second, explicit yes to lifting "unsubscribe from all" (R8, R13)
    confirmed: bool


@dataclass(frozen=True, slots=True)
class Saved:
    """What a Save did."""

    #: False, with nothing written, when it would lift an "unsubscribe from all" without the
    #: second confirmation: the page then asks for it
    saved: bool
    #: the signed consent receipts of the opt-ins it wrote, to send after the commit, when
    #: the business unit sends them (issue 17)
    mail: EmailMessage | None = None


def save_preferences(
    db: Database,
    settings: Settings,
    *,
    target: LinkTarget,
    address: Address,
    choices: Choices,
    notice_text: str,
    notice_version: str,
    context: RequestContext,
) -> Saved:
    """Apply a Save as source PREFERENCE_CENTER with the notice the person saw (R6, R13),
    for the link's address and business unit (`target`)."""
    channel, business_unit_id = address.channel, target.business_unit_id
    with db.write() as conn:
        before = last_event_id(conn)
        state = load_preferences(conn, address, business_unit_id)
        if state.wide is not None and not choices.unsubscribe_all and not choices.confirmed:
            return Saved(False)
        evidence = Evidence(notice_text=notice_text, notice_version=notice_version)
        writer = Writer(db, conn, state.account, Actor(Source.PREFERENCE_CENTER), evidence, context)
        if state.wide is not None and not choices.unsubscribe_all:
            writer.remove_wide_opt_out(channel, [address], business_unit_id)
        elif state.wide is None and choices.unsubscribe_all:
            writer.set_wide_opt_out(channel, [address], business_unit_id)
        lifting = state.wide is not None and not choices.unsubscribe_all
        types = load_types(conn, [ty.id for ty in state.types if ty.id in choices.shown])
        changes = []
        for ty in state.types:
            if ty.id not in choices.shown:
                continue  # added after the page was served: the person never saw it
            wants = ty.id in choices.ticked
            # Under a wide opt-out the page showed no box ticked (nothing was sent, R11) and
            # the statuses kept underneath (R7). Lifting it, the ticked boxes are what the
            # person now wants: compared with their kept choice, so an unticked type does
            # not start again. While it stands, the unticked boxes are no opt-outs.
            shown = ty.box.chosen if lifting else ty.box.ticked
            if wants and not shown and not choices.unsubscribe_all:
                changes.append((types[ty.id], Status.SUBSCRIBED))
            elif not wants and shown:
                # An opt-out is honoured even alongside "unsubscribe from all" (R4).
                changes.append((types[ty.id], Status.UNSUBSCRIBED))
        if changes:
            writer.change_statuses(channel, [(address, changes)])
        # The signed receipts of the person's own opt-ins, queued with them (issue 17, R33).
        source = Source.PREFERENCE_CENTER.value
        receipt = receipt_message(conn, settings, target=target, to=address.display, source=source, after_id=before)
        if receipt is not None:
            enqueue(conn, receipt, local=is_local(settings))
    return Saved(True)


def confirm(db: Database, *, address: Address, context: RequestContext) -> Outcome:
    """Double opt-in (R16): the person confirms their address from the link we emailed."""
    with db.write() as conn:
        writer = Writer(db, conn, load_account(conn), Actor(Source.DOUBLE_OPT_IN), context=context)
        return writer.set_confirmation(address, ConfirmationState.CONFIRMED)
