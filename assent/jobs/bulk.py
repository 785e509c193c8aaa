"""The bulk update (R20): a selection × one channel × one status × several types, or
setting / removing wide opt-outs, run as a durable job that reports every address (R9).

Creating one checks everything that does not depend on an address's state (types exist and
belong to the channel, the business unit exists, the evidence a data-privacy-mode opt-in
needs) and answers 422 with nothing queued; the selection is then written to
`job_targets` in the same transaction as the job. Running it hands a chunk of addresses at a
time to the `Writer`, which asks the domain rules about every change: nothing here judges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy.engine import Connection

from assent.domain.addresses import Address
from assent.domain.model import (
    BULK_SOURCES,
    Actor,
    ActorClass,
    Channel,
    Evidence,
    LegalBasis,
    Reason,
    Source,
    Status,
    Verdict,
    WideOptOut,
)
from assent.domain.rules import EVIDENCE_REASONS, judge_status_change, judge_wide_opt_out_removal
from assent.jobs import queue, selection
from assent.jobs.queue import Job, Target
from assent.jobs.selection import Selection
from assent.jobs.worker import JobFailed, register
from assent.services.changes import Writer
from assent.services.errors import Collected, Invalid
from assent.services.evidence import evidence_problem
from assent.services.ledger import RequestContext
from assent.services.state import Account, load_account, load_types, require_business_unit
from assent.services.types import check_types
from assent.storage import tables as t
from assent.storage.db import Database

KIND = "BULK_UPDATE"


class Operation(StrEnum):
    SET_STATUS = "SET_STATUS"
    SET_WIDE_OPT_OUT = "SET_WIDE_OPT_OUT"
    REMOVE_WIDE_OPT_OUTS = "REMOVE_WIDE_OPT_OUTS"


#: What a caller may name as the source, and the source the changes carry (the domain's).
SOURCES = BULK_SOURCES


@dataclass(frozen=True)
class BulkUpdate:
    selection: Selection
    channel: Channel
    operation: Operation = Operation.SET_STATUS
    status: Status | None = None
    subscription_type_ids: Sequence[int] = ()
    business_unit_id: int | None = None
    evidence: Evidence = field(default_factory=Evidence)
    source: str = "API"


def create(db: Database, request: BulkUpdate, *, actor_id: str | None, context: RequestContext) -> str:
    """Validate, queue and materialize a bulk update; returns the job id. A 422 writes nothing."""
    with db.read() as conn:
        account = load_account(conn)
    # Normalizing 100,000 addresses takes a while: do it before taking the write lock.
    prepared = selection.prepare(account, request.channel, request.selection)
    with db.write() as conn:
        account = load_account(conn)
        _validate(conn, account, request)
        at = t.now()
        job_id = queue.insert_job(conn, KIND, _params(request, actor_id, context), actor_id, at)
        total = selection.materialize(db, conn, account, job_id, request.channel, prepared)
        queue.set_total(conn, job_id, total)
    return job_id


def _validate(conn: Connection, account: Account, request: BulkUpdate) -> None:
    problems = Collected()
    if request.source not in SOURCES:
        allowed = ", ".join(SOURCES)
        raise Invalid("source", f"a bulk update acts as one of {allowed}", "SOURCE_NOT_ALLOWED")
    if request.operation is Operation.SET_STATUS:
        if request.status is None:
            problems.add("status", "a status is required to set statuses", "REQUIRED")
        if not request.subscription_type_ids:
            problems.add("subscription_type_ids", "name at least one subscription type", "REQUIRED")
        if request.business_unit_id is not None:
            problems.add("business_unit_id", "only wide opt-out operations take a business unit")
        check_types(
            conn,
            list(request.subscription_type_ids),
            lambda i: f"subscription_type_ids[{i}]",
            request.channel,
            unique=True,
            problems=problems,
        )
    else:
        if request.business_unit_id is None:
            problems.add("business_unit_id", f"{request.operation.value} needs a business unit", "REQUIRED")
        if request.status is not None:
            problems.add("status", f"{request.operation.value} sets no status")
        if request.subscription_type_ids:
            problems.add("subscription_type_ids", f"{request.operation.value} concerns every type")
    problems.raise_if_any()
    if request.business_unit_id is not None:
        require_business_unit(conn, request.business_unit_id)
    verdict = _probe(account, request)
    if verdict is not None and verdict.reason in EVIDENCE_REASONS:
        raise evidence_problem(verdict.reason.value)


def _probe(account: Account, request: BulkUpdate) -> Verdict | None:
    """Ask the rules about the change every address would need evidence for, whatever its
    state: a plain opt-in, or lifting a wide opt-out that a user set. If that is refused for
    want of evidence, every address would be, so the request is a 422 (R6) — the rest of
    the refusals depend on each address and are reported per address (R9)."""
    actor = Actor(SOURCES[request.source])
    if request.operation is Operation.SET_STATUS and request.status is Status.SUBSCRIBED:
        return judge_status_change(
            current=Status.NOT_SPECIFIED,
            target=Status.SUBSCRIBED,
            actor=actor,
            evidence=request.evidence,
            policy=account.policy,
            has_processing_basis=True,  # stored per address: a per-address matter
        )
    if request.operation is Operation.REMOVE_WIDE_OPT_OUTS and request.business_unit_id is not None:
        return judge_wide_opt_out_removal(
            current=WideOptOut(request.business_unit_id, ActorClass.USER, Source.BULK),
            actor=actor,
            evidence=request.evidence,
            policy=account.policy,
            has_processing_basis=True,
        )
    return None


def _params(request: BulkUpdate, actor_id: str | None, context: RequestContext) -> dict[str, Any]:
    evidence = request.evidence
    return {
        "operation": request.operation.value,
        "channel": request.channel.value,
        "status": request.status.value if request.status else None,
        "subscription_type_ids": list(request.subscription_type_ids),
        "business_unit_id": request.business_unit_id,
        "source": SOURCES[request.source].value,
        "actor_id": actor_id,
        "legal_basis": evidence.legal_basis.value if evidence.legal_basis else None,
        "legal_basis_explanation": evidence.legal_basis_explanation,
        "processing_legal_basis": (
            evidence.processing_legal_basis.value if evidence.processing_legal_basis else None
        ),
        "selection": request.selection.describe(),
        "context": {"ip": context.ip, "user_agent": context.user_agent},
    }


# --- running ------------------------------------------------------------------------------


def apply_chunk(db: Database, conn: Connection, job: Job, targets: list[Target]) -> list[dict[str, Any]]:
    """One chunk: a single `Writer` call for every usable address, an outcome for each."""
    p = job.params
    channel = Channel(p["channel"])
    operation = Operation(p["operation"])
    account = load_account(conn)  # the policy as it is now (R12), not as it was at creation
    writer = Writer(
        db,
        conn,
        account,
        Actor(Source(p["source"]), p["actor_id"]),
        Evidence(
            legal_basis=_basis(p["legal_basis"]),
            legal_basis_explanation=p["legal_basis_explanation"],
            processing_legal_basis=_basis(p["processing_legal_basis"]),
        ),
        RequestContext(p["context"]["ip"], p["context"]["user_agent"], job.id),
    )
    rows: list[dict[str, Any]] = []
    usable: list[Target] = []
    for target in targets:
        if target.address is None:
            code, _ = selection.split_error(target.error)
            rows.append(_row(target, 0, "REFUSED", code))
        else:
            usable.append(target)
    if not usable:
        return rows
    addresses = [Address(channel, target.address or "", target.display or "") for target in usable]
    if operation is Operation.SET_STATUS:
        type_ids = p["subscription_type_ids"]
        known = load_types(conn, type_ids)
        if len(known) != len(type_ids):
            raise JobFailed("a subscription type of this job no longer exists")
        status = Status(p["status"])
        changes = [(known[type_id], status) for type_id in type_ids]
        results = writer.change_statuses(channel, [(address, changes) for address in addresses])
        for target, per_type in zip(usable, results, strict=True):
            rows.extend(_row(target, r.subscription_type_id, r.outcome.value, r.reason) for r in per_type)
    else:
        bu = int(p["business_unit_id"])
        if operation is Operation.SET_WIDE_OPT_OUT:
            wides = writer.set_wide_opt_out(channel, addresses, bu)
        else:
            wides = writer.remove_wide_opt_out(channel, addresses, bu)
        rows.extend(_row(target, 0, w.outcome.value, w.reason) for target, w in zip(usable, wides, strict=True))
    return rows


def _row(target: Target, type_id: int, outcome: str, reason: Reason | str | None) -> dict[str, Any]:
    return {
        "seq": target.seq,
        "subscription_type_id": type_id,
        "address": target.display,
        "outcome": outcome,
        "reason": str(reason) if reason else None,
    }


def _basis(value: str | None) -> LegalBasis | None:
    return LegalBasis(value) if value else None


register(KIND, apply_chunk)
