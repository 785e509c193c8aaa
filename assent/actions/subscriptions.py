"""Changing one address's — or a batch of addresses' — statuses, wide opt-outs, delivery
state and confirmation. Every interface (the API, the admin UI, the pages through
`contact_pages`) comes here; each function is one write transaction through `Writer`.

A one-address change that the rules refuse for want of evidence (R5, R6) is a 422 naming
the field, and nothing is written; a batch reports every refusal per change (R9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from assent.domain.addresses import Address, InvalidAddress
from assent.domain.model import (
    Actor,
    Channel,
    ConfirmationState,
    Evidence,
    Outcome,
    Source,
    Status,
    WideOptOut,
)
from assent.domain.rules import EVIDENCE_REASONS, starts_double_opt_in
from assent.services.changes import ChangeResult, WideResult, Writer
from assent.services.errors import Invalid
from assent.services.evidence import evidence_problem
from assent.services.ledger import RequestContext
from assent.services.state import SubscriptionType, load_account, load_wide_opt_outs, require_business_unit
from assent.services.types import check_types
from assent.storage.db import Database


@dataclass(frozen=True, slots=True)
class RequestedChange:
    subscription_type_id: int
    status: Status


@dataclass(frozen=True, slots=True)
class StatusChange:
    """What one address's change did, and what a screen needs to say why."""

    address: Address
    results: list[ChangeResult]
    types: list[SubscriptionType]
    #: the wide opt-outs in force for the types' business units after the change
    wide_opt_outs: dict[int, WideOptOut] = field(default_factory=dict)
    #: R16: the change left the address waiting for the person to confirm it
    confirmation_pending: bool = False


def change_statuses(
    db: Database,
    *,
    channel: Channel,
    raw_address: str,
    changes: Sequence[RequestedChange],
    actor: Actor,
    evidence: Evidence,
    context: RequestContext,
) -> StatusChange:
    """Apply a request about one address (R3–R10, R16)."""
    with db.write() as conn:
        account = load_account(conn)
        address = account.normalize(channel, raw_address)
        ids = [c.subscription_type_id for c in changes]
        known = check_types(conn, ids, lambda i: f"changes[{i}].subscription_type_id", channel)
        types = [known[type_id] for type_id in ids]
        writer = Writer(db, conn, account, actor, evidence, context)
        [results] = writer.change_statuses(
            channel, [(address, [(st, c.status) for st, c in zip(types, changes, strict=True)])]
        )
        missing = [r.reason for r in results if r.reason in EVIDENCE_REASONS]
        if missing and missing[0] is not None:
            raise evidence_problem(missing[0])  # rolls the transaction back: nothing written
        pending = any(
            starts_double_opt_in(
                source=actor.source,
                channel=channel,
                outcome=r.outcome,
                target=c.status,
                business_unit_id=st.business_unit_id,
                policy=account.policy,
            )
            for r, c, st in zip(results, changes, types, strict=True)
        )
        if pending:
            writer.set_confirmation(address, ConfirmationState.PENDING)
        units = {st.business_unit_id for st in types}
        wides = load_wide_opt_outs(conn, channel, {address.key}, units)
    return StatusChange(address, results, types, {bu: w for (_, bu), w in wides.items()}, pending)


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
    row_evidence: Sequence[Evidence | None] | None = None,
) -> list[BatchResult]:
    """Many addresses in one transaction and one `Writer` call. Unlike the one-address
    request, every refusal — a missing explanation included — is reported per change (R9),
    and an address that is not one is reported, not a 422: one bad row in a sender's batch
    should not hold up the rest. Unknown or wrong-channel types are still a 422.
    `row_evidence`, when given, is each item's own evidence (None: `evidence`)."""
    with db.write() as conn:
        account = load_account(conn)
        flat = [(i, j, c.subscription_type_id) for i, item in enumerate(items) for j, c in enumerate(item.changes)]
        known = check_types(
            conn,
            [type_id for _, _, type_id in flat],
            lambda k: f"items[{flat[k][0]}].changes[{flat[k][1]}].subscription_type_id",
            channel,
        )
        requests: list[tuple[Address, list[tuple[SubscriptionType, Status]]]] = []
        proofs: list[Evidence | None] = []
        answers: list[BatchResult | int] = []
        for index, item in enumerate(items):
            try:
                address = account.normalize_raw(channel, item.raw_address)
            except InvalidAddress as error:
                answers.append(BatchResult(item.raw_address, error=error.reason))
                continue
            answers.append(len(requests))
            requests.append((address, [(known[c.subscription_type_id], c.status) for c in item.changes]))
            proofs.append(row_evidence[index] if row_evidence is not None else None)
        writer = Writer(db, conn, account, actor, evidence, context)
        results = writer.change_statuses(channel, requests, proofs if row_evidence is not None else None)
    return [
        answer if isinstance(answer, BatchResult) else BatchResult(requests[answer][0].display, results[answer])
        for answer in answers
    ]


def _wide(
    db: Database,
    *,
    channel: Channel,
    raw_address: str,
    business_unit_id: int,
    actor: Actor,
    evidence: Evidence,
    context: RequestContext,
    lift: bool,
) -> tuple[Address, WideResult]:
    with db.write() as conn:
        account = load_account(conn)
        address = account.normalize(channel, raw_address)
        require_business_unit(conn, business_unit_id)
        writer = Writer(db, conn, account, actor, evidence, context)
        change = writer.remove_wide_opt_out if lift else writer.set_wide_opt_out
        [result] = change(channel, [address], business_unit_id)
        if result.reason in EVIDENCE_REASONS and result.reason is not None:
            raise evidence_problem(result.reason)
        return address, result


def set_unsubscribe_all(
    db: Database,
    *,
    channel: Channel,
    raw_address: str,
    business_unit_id: int,
    actor: Actor,
    evidence: Evidence | None = None,
    context: RequestContext,
) -> tuple[Address, WideResult]:
    """R8: "unsubscribe from all" of one business unit's `channel`. Always allowed."""
    return _wide(
        db,
        channel=channel,
        raw_address=raw_address,
        business_unit_id=business_unit_id,
        actor=actor,
        evidence=evidence or Evidence(),
        context=context,
        lift=False,
    )


def lift_unsubscribe_all(
    db: Database,
    *,
    channel: Channel,
    raw_address: str,
    business_unit_id: int,
    actor: Actor,
    evidence: Evidence,
    context: RequestContext,
) -> tuple[Address, WideResult]:
    """R8: lift one — only the contact's own explicit act, or a user with evidence one a
    user or an import set (`rules.judge_wide_opt_out_removal`). Refusals are outcomes;
    missing evidence is a 422."""
    return _wide(
        db,
        channel=channel,
        raw_address=raw_address,
        business_unit_id=business_unit_id,
        actor=actor,
        evidence=evidence,
        context=context,
        lift=True,
    )


def _delivery(
    db: Database, channel: Channel, raw_address: str, actor: Actor, reason: str | None, undeliverable: bool,
    context: RequestContext,
) -> tuple[Address, Outcome]:
    with db.write() as conn:
        account = load_account(conn)
        address = account.normalize(channel, raw_address)
        writer = Writer(db, conn, account, actor, Evidence(legal_basis_explanation=reason), context)
        return address, writer.set_undeliverable(address, undeliverable, reason)


def mark_undeliverable(
    db: Database, *, channel: Channel, raw_address: str, actor_id: str | None, reason: str | None,
    context: RequestContext,
) -> tuple[Address, Outcome]:
    """A hard bounce (source BOUNCE, a PROVIDER act) marks the address undeliverable (R11)."""
    return _delivery(db, channel, raw_address, Actor(Source.BOUNCE, actor_id), reason, True, context)


def clear_undeliverable(
    db: Database, *, channel: Channel, raw_address: str, actor: Actor, reason: str | None, context: RequestContext
) -> tuple[Address, Outcome]:
    """A user clears a bounce, with an explanation (R11): without one, a 422 naming
    `legal_basis_explanation`, and nothing written — whichever interface asks."""
    explanation = (reason or "").strip()
    if not explanation:
        raise Invalid("legal_basis_explanation", "say why this address can receive mail again")
    return _delivery(db, channel, raw_address, actor, explanation, False, context)


def mark_confirmed(
    db: Database, *, channel: Channel, raw_address: str, actor: Actor, context: RequestContext
) -> tuple[Address, Outcome]:
    """Double opt-in confirmed on the person's behalf (by a user, R16)."""
    with db.write() as conn:
        account = load_account(conn)
        address = account.normalize(channel, raw_address)
        writer = Writer(db, conn, account, actor, context=context)
        return address, writer.set_confirmation(address, ConfirmationState.CONFIRMED)
