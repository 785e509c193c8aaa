"""What was true for one address at a past moment (issue 17), rebuilt from the ledger alone.

"Was she opted in on 3 March when we texted her?": the address's events up to that moment
(read by the ledger's primary key, address hash first) are replayed in id order into the
state they left — statuses with their evidence, wide opt-outs (spam complaints among them),
undeliverable, soft bounces, confirmation, erasure — and a decision is the same rule
(`rules.decision_table`) asked of that state. A provider's resubscribe report is evidence
only (it changes nothing then either).

The policy a decision applies (data privacy mode, consent required to send, double opt-in,
a unit's own double opt-in) is the one in force then, taken from the settings audit
(`audit_events`, written by the actions that change them): each field changed since is put
back to what the first change after the moment found. The answer says which it used:
`policy_as_of` "now" when nothing changed since, "settings_audit" when it was rebuilt.
What neither holds is today's: the list of types and whether each is active.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.addresses import Address
from assent.domain.audit import AuditTag
from assent.domain.model import ConfirmationState, EventKind, EventState, Policy, Reason, Source, Status
from assent.domain.rules import FactsKey, decision_table, policy_key
from assent.services.errors import Invalid
from assent.services.state import Account, SubscriptionType
from assent.services.subscribers import opted_out_properties
from assent.storage import tables as t

POLICY_AS_OF = "now"  # no audited change of the policy since the moment asked about
POLICY_FROM_AUDIT = "settings_audit"  # the policy then, rebuilt from the settings audit
_ACCOUNT_POLICY = ("data_privacy_mode", "consent_required_to_send", "double_opt_in")
_SETTINGS_TAGS = (AuditTag.DATA_PRIVACY_MODE_SET.value, AuditTag.SETTINGS_UPDATED.value)


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
    _, policy_as_of = policy_at(conn, account, at)
    return subscriber_shape(conn, address, past) | {"as_of": at, "policy_as_of": policy_as_of}


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


def policy_at(conn: Connection, account: Account, at: dt.datetime) -> tuple[Policy, str]:
    """The policy in force at `at`, and which it is (`POLICY_AS_OF` or `POLICY_FROM_AUDIT`):
    today's, with each field changed since put back to the value the first later change's
    audit row had before it."""
    a = t.audit_events
    tags = (*_SETTINGS_TAGS, AuditTag.BUSINESS_UNIT_UPDATED.value)
    later = conn.execute(
        sa.select(a.c.tag, a.c.subject_id, a.c.before).where(a.c.at > at, a.c.tag.in_(tags)).order_by(a.c.id)
    ).all()
    fields: dict[str, bool] = {}
    units: dict[int, bool | None] = {}
    for row in later:
        before = row.before or {}
        if row.tag in _SETTINGS_TAGS:
            for name in _ACCOUNT_POLICY:
                if name in before:
                    fields.setdefault(name, bool(before[name]))
        elif "double_opt_in" in before and row.subject_id is not None:
            value = before["double_opt_in"]
            units.setdefault(int(row.subject_id), None if value is None else bool(value))
    if not fields and not units:
        return account.policy, POLICY_AS_OF
    by_unit = dict(account.policy.double_opt_in_by_business_unit)
    for unit_id, value in units.items():
        if value is None:
            by_unit.pop(unit_id, None)  # the unit followed the account setting then
        else:
            by_unit[unit_id] = value
    return dataclasses.replace(account.policy, **fields, double_opt_in_by_business_unit=by_unit), POLICY_FROM_AUDIT


def reasons_as_of(
    conn: Connection, account: Account, type_: SubscriptionType, address: Address, at: dt.datetime
) -> tuple[tuple[Reason, ...], str]:
    """The decision for `type_` as the address's state and the policy were at `at` (today's
    type), and which policy that was (`policy_at`)."""
    past = replay(conn, account, address, at=at)
    policy, policy_as_of = policy_at(conn, account, at)
    status = past.statuses.get(type_.id, {}).get("status", Status.NOT_SPECIFIED.value)
    facts: FactsKey = (
        Status(status),
        type_.business_unit_id in past.wides,
        past.undeliverable,
        ConfirmationState(past.confirmation) if past.confirmation else None,
        past.erased,
    )
    return decision_table(type_.facts, policy_key(policy))[facts], policy_as_of
