"""What was true for one address at a past moment (issue 17), rebuilt from the ledger alone.

"Was she opted in on 3 March when we texted her?": the address's events up to that moment
(read by the ledger's primary key, address hash first) are replayed in id order into the
state they left — statuses with their evidence, wide opt-outs (spam complaints among them),
undeliverable, soft bounces, confirmation, erasure — and a decision is the same rule
(`rules.decision_table`) asked of that state. A provider's resubscribe report is evidence
only (it changes nothing then either).

What the ledger does not hold is today's: the list of types and whether each is active, and
the account's policy (data privacy mode, consent required to send, double opt-in). The
settings audit that would date the policy is not part of this branch; the answer says which
policy it used (`policy_as_of`: "now").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.addresses import Address
from assent.domain.model import ConfirmationState, EventKind, EventState, Reason, Source, Status
from assent.domain.rules import FactsKey, decision_table, policy_key
from assent.services.errors import Invalid
from assent.services.state import Account, SubscriptionType
from assent.services.subscribers import opted_out_properties
from assent.storage import tables as t

POLICY_AS_OF = "now"


@dataclass
class PastState:
    """One address's state after the events up to a moment."""

    display: str | None = None
    statuses: dict[int, dict[str, Any]] = field(default_factory=dict)
    wides: dict[int, dict[str, Any]] = field(default_factory=dict)
    undeliverable: bool = False
    undeliverable_reason: str | None = None
    undeliverable_at: dt.datetime | None = None
    soft_bounces: int = 0
    last_soft_bounce_at: dt.datetime | None = None
    last_soft_bounce_reason: str | None = None
    confirmation: str | None = None
    processing_legal_basis: str | None = None
    erased: bool = False
    last_event_id: int | None = None


def require_zone(when: dt.datetime, name: str = "as_of") -> dt.datetime:
    if when.tzinfo is None:
        raise Invalid(name, "give a time with its offset (RFC 3339), e.g. 2026-03-03T12:00:00Z", "INVALID_TIME")
    return when.astimezone(dt.UTC)


def replay(
    conn: Connection, account: Account, address: Address, *, at: dt.datetime | None = None, until_id: int | None = None
) -> PastState:
    """The state the address's events up to `at` (inclusive), or up to event `until_id`, left."""
    e = t.ledger_events
    query = sa.select(
        e.c.id, e.c.at, e.c.kind, e.c.address, e.c.business_unit_id, e.c.subscription_type_id, e.c.new_status,
        e.c.legal_basis, e.c.legal_basis_explanation, e.c.processing_legal_basis, e.c.source, e.c.actor_kind,
    ).where(e.c.address_hash == account.address_hash(address.channel, address.key))  # fmt: skip
    if at is not None:
        query = query.where(e.c.at <= at)
    if until_id is not None:
        query = query.where(e.c.id <= until_id)
    state = PastState()
    for ev in conn.execute(query.order_by(e.c.id)):
        state.last_event_id = ev.id
        if ev.address:
            state.display = ev.address
        if ev.kind == EventKind.ERASURE:
            state = PastState(display=state.display, erased=True, last_event_id=ev.id)
        elif ev.kind == EventKind.STATUS:
            state.statuses[ev.subscription_type_id] = {
                "status": ev.new_status,
                "legal_basis": ev.legal_basis,
                "legal_basis_explanation": ev.legal_basis_explanation,
                "source": ev.source,
                "updated_at": ev.at,
            }
            if ev.new_status == Status.SUBSCRIBED.value:
                state.erased = False  # the person's own opt-in lifts an erasure (R22)
                state.processing_legal_basis = ev.processing_legal_basis or state.processing_legal_basis
        elif ev.kind == EventKind.WIDE_OPT_OUT:
            if ev.new_status == Status.UNSUBSCRIBED:
                state.wides[ev.business_unit_id] = {"set_by": ev.actor_kind, "source": ev.source, "at": ev.at}
            else:
                state.wides.pop(ev.business_unit_id, None)
        elif ev.kind == EventKind.UNDELIVERABLE:
            state.undeliverable = ev.new_status == EventState.UNDELIVERABLE
            state.undeliverable_reason = ev.legal_basis_explanation if state.undeliverable else None
            state.undeliverable_at = ev.at if state.undeliverable else None
        elif ev.kind == EventKind.SOFT_BOUNCE:
            state.soft_bounces += 1
            state.last_soft_bounce_at, state.last_soft_bounce_reason = ev.at, ev.legal_basis_explanation
        elif ev.kind == EventKind.CONFIRMATION:
            state.confirmation = ev.new_status
    return state


def subscriber_as_of(conn: Connection, account: Account, address: Address, at: dt.datetime) -> dict[str, Any]:
    """The `subscriber` shape, as it was at `at`."""
    past = replay(conn, account, address, at=at)
    return subscriber_shape(conn, address, past) | {"as_of": at, "policy_as_of": POLICY_AS_OF}


def subscriber_shape(conn: Connection, address: Address, past: PastState) -> dict[str, Any]:
    st = t.subscription_types
    types = conn.execute(
        sa.select(st.c.id, st.c.business_unit_id, st.c.name, st.c.is_active)
        .where(st.c.channel == address.channel.value)
        .order_by(st.c.business_unit_id, st.c.position, st.c.id)
    ).all()
    statuses = []
    for ty in types:
        found = past.statuses.get(ty.id)
        statuses.append(
            {
                "subscription_type_id": ty.id,
                "business_unit_id": ty.business_unit_id,
                "name": ty.name,
                "is_active": ty.is_active,
                "status": found["status"] if found else Status.NOT_SPECIFIED.value,
                "legal_basis": found["legal_basis"] if found else None,
                "legal_basis_explanation": found["legal_basis_explanation"] if found else None,
                "source": found["source"] if found else None,
                "updated_at": found["updated_at"] if found else None,
            }
        )
    wides = [{"business_unit_id": bu, **w} for bu, w in sorted(past.wides.items())]
    confirmed = None if not past.confirmation else past.confirmation == ConfirmationState.CONFIRMED.value
    return {
        "address": past.display or address.display,
        "channel": address.channel.value,
        "statuses": statuses,
        "wide_opt_outs": wides,
        "undeliverable": past.undeliverable,
        "undeliverable_reason": past.undeliverable_reason,
        # the times of the events that recorded them (the provider's own time is not in the ledger)
        "undeliverable_at": past.undeliverable_at,
        "soft_bounces": past.soft_bounces,
        "last_soft_bounce_at": past.last_soft_bounce_at,
        "last_soft_bounce_reason": past.last_soft_bounce_reason,
        "complaints": [
            {"business_unit_id": w["business_unit_id"], "at": w["at"]}
            for w in wides
            if w["source"] == Source.SPAM_COMPLAINT.value
        ],
        "confirmed": confirmed,
        "processing_legal_basis": past.processing_legal_basis,
        "erased": past.erased,
        "properties": opted_out_properties(conn, address.channel, statuses, wides),
    }


def reasons_as_of(
    conn: Connection, account: Account, type_: SubscriptionType, address: Address, at: dt.datetime
) -> tuple[Reason, ...]:
    """The decision for `type_` as the address's state was at `at` (today's policy and type)."""
    past = replay(conn, account, address, at=at)
    status = past.statuses.get(type_.id, {}).get("status", Status.NOT_SPECIFIED.value)
    facts: FactsKey = (
        Status(status),
        type_.business_unit_id in past.wides,
        past.undeliverable,
        ConfirmationState(past.confirmation) if past.confirmation else None,
        past.erased,
    )
    return decision_table(type_.facts, policy_key(account.policy))[facts]
