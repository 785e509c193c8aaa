"""One address: what it agreed to, and changing that. Shared by every interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.addresses import Address, InvalidAddress
from assent.domain.model import Actor, Channel, ConfirmationState, Evidence, Outcome, Source, Status
from assent.domain.rules import EVIDENCE_REASONS
from assent.services.changes import ChangeResult, WideResult, Writer
from assent.services.errors import Collected, Invalid, Problem
from assent.services.ledger import RequestContext
from assent.services.state import Account, SubscriptionType, load_account, load_types, require_business_unit
from assent.storage import tables as t
from assent.storage.db import Database

CHANNEL_WORD = {Channel.EMAIL: "email", Channel.SMS: "SMS", Channel.WHATSAPP: "WhatsApp"}


@dataclass(frozen=True)
class RequestedChange:
    subscription_type_id: int
    status: Status


def resolve_types(
    conn: Connection, channel: Channel, ids: Sequence[int], field: str = "changes"
) -> list[SubscriptionType]:
    """The named types, each checked to exist and to belong to `channel` (422 otherwise)."""
    known = load_types(conn, set(ids))
    problems = Collected()
    for index, type_id in enumerate(ids):
        _check_type(problems, known, channel, type_id, f"{field}[{index}]")
    problems.raise_if_any()
    return [known[type_id] for type_id in ids]


def _check_type(
    problems: Collected, known: dict[int, SubscriptionType], channel: Channel, type_id: int, where: str
) -> None:
    found = known.get(type_id)
    field = f"{where}.subscription_type_id"
    if found is None:
        problems.add(field, f"subscription type {type_id} does not exist", "UNKNOWN_SUBSCRIPTION_TYPE")
    elif found.channel is not channel:
        reason = f"subscription type {type_id} is a {found.channel.value} type, not {channel.value}"
        problems.add(field, reason, "WRONG_CHANNEL")


def change_statuses(
    db: Database,
    *,
    channel: Channel,
    raw_address: str,
    changes: Sequence[RequestedChange],
    actor: Actor,
    evidence: Evidence,
    context: RequestContext,
) -> tuple[Address, list[ChangeResult]]:
    """Apply a request about one address. A change that lacks evidence (R5, R6) fails the
    whole request with a 422 naming the field, and nothing is written."""
    with db.write() as conn:
        account = load_account(conn)
        address = account.normalize(channel, raw_address)
        types = resolve_types(conn, channel, [c.subscription_type_id for c in changes])
        writer = Writer(db, conn, account, actor, evidence, context)
        [results] = writer.change_statuses(
            channel, [(address, [(st, c.status) for st, c in zip(types, changes, strict=True)])]
        )
        missing = [r for r in results if r.reason in EVIDENCE_REASONS]
        if missing:
            raise evidence_problem(missing[0].reason.value if missing[0].reason else "")
        if (
            actor.source.value == "FORM"
            and channel is Channel.EMAIL
            and any(r.new_status is Status.SUBSCRIBED and r.outcome is Outcome.CHANGED for r in results)
            and any(account.policy.double_opt_in_for(st.business_unit_id) for st in types)
        ):
            # R16: a form opt-in waits for the person to confirm their address.
            writer.set_confirmation(address, ConfirmationState.PENDING)
        return address, results


@dataclass(frozen=True)
class BatchItem:
    raw_address: str
    changes: Sequence[RequestedChange]


@dataclass(frozen=True)
class BatchResult:
    address: str
    results: list[ChangeResult] | None = None
    error: str | None = None


def change_statuses_batch(
    db: Database,
    *,
    channel: Channel,
    items: Sequence[BatchItem],
    actor: Actor,
    evidence: Evidence,
    context: RequestContext,
) -> list[BatchResult]:
    """Many addresses in one transaction and one `Writer` call. Unlike the one-address
    request, every refusal — a missing explanation included — is reported per change (R9),
    and an address that is not one is reported, not a 422: one bad row in a sender's batch
    should not hold up the rest. Unknown or wrong-channel types are still a 422."""
    with db.write() as conn:
        account = load_account(conn)
        known = load_types(conn, {c.subscription_type_id for item in items for c in item.changes})
        problems = Collected()
        for i, item in enumerate(items):
            for j, change in enumerate(item.changes):
                _check_type(problems, known, channel, change.subscription_type_id, f"items[{i}].changes[{j}]")
        problems.raise_if_any()
        requests: list[tuple[Address, list[tuple[SubscriptionType, Status]]]] = []
        answers: list[BatchResult | int] = []
        for item in items:
            try:
                address = account.normalize_raw(channel, item.raw_address)
            except InvalidAddress as error:
                answers.append(BatchResult(item.raw_address, error=error.reason))
                continue
            answers.append(len(requests))
            requests.append((address, [(known[c.subscription_type_id], c.status) for c in item.changes]))
        results = Writer(db, conn, account, actor, evidence, context).change_statuses(channel, requests)
    return [
        answer if isinstance(answer, BatchResult) else BatchResult(requests[answer][0].display, results[answer])
        for answer in answers
    ]


_EVIDENCE_FIELDS = {
    "EXPLANATION_REQUIRED": ("legal_basis_explanation", "an explanation is required to opt this person in again"),
    "LEGAL_BASIS_REQUIRED": ("legal_basis", "data privacy mode is on: a legal basis to communicate is required"),
    "PROCESSING_LEGAL_BASIS_REQUIRED": (
        "processing_legal_basis",
        "data privacy mode is on: a legal basis to process this person's data is required",
    ),
    "NOTICE_REQUIRED": ("notice_text", "a person's own opt-in needs the consent notice text they saw"),
}


def evidence_problem(reason: str) -> Problem:
    field, text = _EVIDENCE_FIELDS[reason]
    return Invalid(field, text, reason)


def set_wide_opt_out(
    db: Database,
    *,
    channel: Channel,
    raw_address: str,
    business_unit_id: int,
    actor: Actor,
    evidence: Evidence,
    context: RequestContext,
    remove: bool = False,
) -> tuple[Address, WideResult]:
    with db.write() as conn:
        account = load_account(conn)
        address = account.normalize(channel, raw_address)
        require_business_unit(conn, business_unit_id)
        writer = Writer(db, conn, account, actor, evidence, context)
        if remove:
            [result] = writer.remove_wide_opt_out(channel, [address], business_unit_id)
        else:
            [result] = writer.set_wide_opt_out(channel, [address], business_unit_id)
        if result.reason in EVIDENCE_REASONS:
            raise evidence_problem(result.reason.value if result.reason else "")
        return address, result


# --- reading ------------------------------------------------------------------------------


def subscriber_view(conn: Connection, account: Account, address: Address) -> dict[str, Any]:
    """Everything Assent holds for one address on one channel (the `subscriber` shape)."""
    channel = address.channel
    st, s, w, a = t.subscription_types, t.subscription_statuses, t.wide_opt_outs, t.addresses
    types = conn.execute(
        sa.select(st.c.id, st.c.business_unit_id, st.c.name, st.c.is_active)
        .where(st.c.channel == channel.value)
        .order_by(st.c.business_unit_id, st.c.position, st.c.id)
    ).all()
    stored = {
        r.subscription_type_id: r
        for r in conn.execute(sa.select(s).where(s.c.address == address.key, s.c.channel == channel.value))
    }
    wides = conn.execute(
        sa.select(w).where(w.c.address == address.key, w.c.channel == channel.value).order_by(w.c.business_unit_id)
    ).all()
    row = conn.execute(sa.select(a).where(a.c.address == address.key, a.c.channel == channel.value)).first()
    erased = conn.execute(
        sa.select(t.erasures.c.at).where(
            t.erasures.c.channel == channel.value,
            t.erasures.c.address_hash == account.address_hash(channel, address.key),
        )
    ).first()
    statuses = []
    for ty in types:
        found = stored.get(ty.id)
        statuses.append(
            {
                "subscription_type_id": ty.id,
                "business_unit_id": ty.business_unit_id,
                "name": ty.name,
                "is_active": ty.is_active,
                "status": found.status if found else Status.NOT_SPECIFIED.value,
                "legal_basis": found.legal_basis if found else None,
                "legal_basis_explanation": found.legal_basis_explanation if found else None,
                "source": found.source if found else None,
                "updated_at": found.updated_at if found else None,
            }
        )
    confirmed: bool | None = None
    if row is not None and row.confirmation:
        confirmed = row.confirmation == ConfirmationState.CONFIRMED.value
    wide_list = [
        {"business_unit_id": r.business_unit_id, "set_by": r.set_by, "source": r.source, "at": r.at} for r in wides
    ]
    return {
        "address": row.display if row is not None else address.display,
        "channel": channel.value,
        "statuses": statuses,
        "wide_opt_outs": wide_list,
        "undeliverable": bool(row.undeliverable) if row is not None else False,
        "undeliverable_reason": row.undeliverable_reason if row is not None else None,
        "undeliverable_at": row.undeliverable_at if row is not None else None,
        "soft_bounces": row.soft_bounces if row is not None else 0,
        "last_soft_bounce_at": row.last_soft_bounce_at if row is not None else None,
        "last_soft_bounce_reason": row.last_soft_bounce_reason if row is not None else None,
        "complaints": [
            {"business_unit_id": w["business_unit_id"], "at": w["at"]}
            for w in wide_list
            if w["source"] == Source.SPAM_COMPLAINT.value
        ],
        "confirmed": confirmed,
        "processing_legal_basis": row.processing_legal_basis if row is not None else None,
        "erased": erased is not None,
        "properties": opted_out_properties(conn, channel, statuses, wide_list),
    }


def opted_out_properties(
    conn: Connection, channel: Channel, statuses: list[dict[str, Any]], wides: list[dict[str, Any]]
) -> dict[str, bool]:
    """R26: HubSpot's "Opted out of email: <type>" and "Unsubscribed from all email".

    Types and opt-outs of business units other than the default "Account" carry the unit's
    name, as HubSpot's per-brand properties do, so two brands' "Newsletter" stay apart.
    """
    word = CHANNEL_WORD[channel]
    bu_names = dict(conn.execute(sa.select(t.business_units.c.id, t.business_units.c.name)).all())

    def brand(bu_id: int) -> str:
        return "" if bu_id == 0 else f" ({bu_names.get(bu_id, bu_id)})"

    props = {
        f"Opted out of {word}: {s['name']}{brand(s['business_unit_id'])}": s["status"] == Status.UNSUBSCRIBED.value
        for s in statuses
        if s["is_active"]
    }
    opted = {w["business_unit_id"] for w in wides}
    for bu_id in sorted(bu_names):
        props[f"Unsubscribed from all {word}{brand(bu_id)}"] = bu_id in opted
    return props
