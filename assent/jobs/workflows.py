"""Running workflow enrollments (R23): a job per trigger or manual enrollment, in chunks.

Each chunk is one transaction: enroll its contacts (skipping those already enrolled unless
the workflow re-enrolls — the database's unique `once_key` decides, so two triggers racing
cannot enroll a contact twice), run every action for them in order, set-based (one `Writer`
call per action for the whole chunk, as source WORKFLOW), and write the run log. A killed
worker's chunk is simply done again by the next one: nothing runs twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.addresses import Address
from assent.domain.model import Actor, Channel, Evidence, LegalBasis, Outcome, Source, Status
from assent.domain.workflows import NO_ADDRESS_ON_CHANNEL, ActionType
from assent.jobs.queue import Job, Target
from assent.jobs.worker import register
from assent.services.changes import Writer
from assent.services.ledger import RequestContext
from assent.services.state import load_account, load_types
from assent.services.workflows import KIND
from assent.storage import tables as t
from assent.storage.db import Database, among
from assent.storage.upsert import upsert

PHONE_CHANNELS = (Channel.SMS, Channel.WHATSAPP)


def actor_of(workflow_id: int) -> Actor:
    """Every ledger event a workflow writes names it: actor id `workflow:<id>`."""
    return Actor(Source.WORKFLOW, f"workflow:{workflow_id}")


def evidence_of(action: dict[str, Any]) -> Evidence:
    def basis(name: str) -> LegalBasis | None:
        return LegalBasis(action[name]) if action.get(name) else None

    return Evidence(
        legal_basis=basis("legal_basis"),
        legal_basis_explanation=action.get("legal_basis_explanation"),
        processing_legal_basis=basis("processing_legal_basis"),
    )


def run_id(job_id: str, seq: int) -> str:
    return f"{job_id}:{seq:09d}"


def apply_chunk(db: Database, conn: Connection, job: Job, targets: list[Target]) -> list[dict[str, Any]]:
    w = t.workflows
    workflow = conn.execute(sa.select(w).where(w.c.id == job.params["workflow_id"])).first()
    if workflow is None or not workflow.enabled or workflow.deleted_at is not None:
        return []  # a disabled (or deleted) workflow enrolls no one
    contacts = _contacts(conn, [target.contact_id for target in targets if target.contact_id is not None])
    at = t.now()
    runs = []
    for target in targets:
        contact = contacts.get(target.contact_id or -1)
        if contact is None:
            continue  # deleted since it was enrolled
        runs.append(
            {
                "id": run_id(job.id, target.seq),
                "workflow_id": workflow.id,
                "contact_id": contact.id,
                "address": contact.email or contact.phone,
                "trigger": str(job.params.get("trigger") or "MANUAL"),
                "job_id": job.id,
                "once_key": None if workflow.reenroll else f"{workflow.id}:{contact.id}",
                "enrolled_at": at,
                # enrolled and run in this one transaction: it finishes when it commits
                "finished_at": at,
            }
        )
    if not runs:
        return []
    # Already enrolled (once_key taken): the insert leaves those out; read back which went in.
    inserted: list[Any] | None = None
    if workflow.reenroll:
        db.bulk_insert(conn, t.workflow_runs, runs)
    else:
        inserted = upsert(conn, t.workflow_runs, runs, keys=("once_key",), update=(), returning="id")
    if inserted is None:  # SQLite (or re-enrolling): read back what went in
        r = t.workflow_runs
        inserted = list(conn.execute(sa.select(r.c.id).where(r.c.id.in_([run["id"] for run in runs]))).scalars())
    mine = set(inserted)
    enrolled = [(run, contacts[run["contact_id"]]) for run in runs if run["id"] in mine]
    if not enrolled:
        return []
    account = load_account(conn)  # the policy as it is now (R12): data privacy mode may be on since
    context = RequestContext(None, None, job.id)
    actions: list[dict[str, Any]] = list(workflow.actions)
    types = load_types(conn, {a["subscription_type_id"] for a in actions if a.get("subscription_type_id")})
    # the addresses of the channels the actions use (a contact's phone is not locked for an
    # email-only workflow)
    used = {Channel(action["channel"]) for action in actions}
    addresses = {channel: _addresses(enrolled, channel) for channel in Channel if channel in used}
    # Lock every address of the chunk first, in key order, before the first action writes
    # the ledger (see jobs/worker.py on why a chunk takes no lock after the ledger counter).
    # One writer for every action: it touches each address once (the actions' own touches
    # find them locked already); each action passes its evidence per row.
    writer = Writer(db, conn, account, actor_of(workflow.id), Evidence(), context)
    for channel, found in addresses.items():
        writer.touch(channel, sorted({a.key: a for a in found.values()}.values(), key=lambda a: a.key))
    log: list[dict[str, Any]] = []
    for position, action in enumerate(actions, start=1):
        channel = Channel(action["channel"])
        proof = evidence_of(action)
        with_address = [(run, addresses[channel][run["id"]]) for run, _ in enrolled if run["id"] in addresses[channel]]
        without = [run for run, _ in enrolled if run["id"] not in addresses[channel]]
        for run in without:
            log.append(_log(run, position, action, Outcome.REFUSED, NO_ADDRESS_ON_CHANNEL))
        if not with_address:
            continue
        if action["type"] == ActionType.SET_SUBSCRIPTION_STATUS:
            type_ = types[int(action["subscription_type_id"])]
            status = Status(action["status"])
            results = writer.change_statuses(
                channel,
                [(address, [(type_, status)]) for _, address in with_address],
                evidence=[proof] * len(with_address),
            )
            for (run, _), [result] in zip(with_address, results, strict=True):
                log.append(_log(run, position, action, result.outcome, result.reason))
        else:
            wides = writer.set_wide_opt_out(
                channel,
                [a for _, a in with_address],
                int(action["business_unit_id"]),
                evidence=[proof] * len(with_address),
            )
            for (run, _), wide in zip(with_address, wides, strict=True):
                log.append(_log(run, position, action, wide.outcome, wide.reason))
    db.bulk_insert(conn, t.workflow_run_actions, log)
    seq_of = {run["id"]: int(run["id"].rsplit(":", 1)[1]) for run, _ in enrolled}
    return [
        {
            "seq": seq_of[row["run_id"]],
            "subscription_type_id": row["position"],
            "address": None,
            "outcome": row["outcome"],
            "reason": row["reason"],
        }
        for row in log
    ]


def _contacts(conn: Connection, ids: Sequence[int]) -> dict[int, Any]:
    if not ids:
        return {}
    c = t.contacts
    rows = conn.execute(
        sa.select(c.c.id, c.c.email, c.c.email_key, c.c.phone).where(among(conn, c.c.id, sorted(set(ids))))
    )
    return {row.id: row for row in rows}


def _addresses(enrolled: list[tuple[dict[str, Any], Any]], channel: Channel) -> dict[str, Address]:
    """run id → the contact's address on `channel` (its email, or its phone for SMS/WhatsApp)."""
    found = {}
    for run, contact in enrolled:
        if channel is Channel.EMAIL and contact.email_key:
            found[run["id"]] = Address(channel, contact.email_key, contact.email or contact.email_key)
        elif channel in PHONE_CHANNELS and contact.phone:
            found[run["id"]] = Address(channel, contact.phone, contact.phone)
    return found


def _log(
    run: dict[str, Any], position: int, action: dict[str, Any], outcome: Outcome, reason: object
) -> dict[str, Any]:
    return {
        "run_id": run["id"],
        "position": position,
        "workflow_id": run["workflow_id"],
        "type": action["type"],
        "subscription_type_id": action.get("subscription_type_id"),
        "business_unit_id": action.get("business_unit_id"),
        "outcome": outcome.value,
        "reason": str(reason) if reason else None,
    }


register(KIND, apply_chunk)
