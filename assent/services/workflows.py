"""Workflows: reading them and their run log, and enrolling contacts from a trigger.

`enroll_on_changes` and `enroll_on_form` run inside the caller's write transaction — the one
that creates or updates the contact or records the form submission — and queue the
enrollment there as a job, so a crash can never lose an enrollment or invent one (R23).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.workflows import ContactChange, TriggerType, fires_on_change, fires_on_form
from assent.jobs import queue
from assent.services.errors import NotFound
from assent.storage import tables as t
from assent.storage.db import Database

KIND = "WORKFLOW_ENROLLMENT"
OUTCOMES = ("CHANGED", "UNCHANGED", "REFUSED")


def _row(conn: Connection, workflow_id: int, *, include_deleted: bool = False) -> Any:
    w = t.workflows
    query = sa.select(w).where(w.c.id == workflow_id)
    if not include_deleted:
        query = query.where(w.c.deleted_at.is_(None))
    row = conn.execute(query).first()
    if row is None:
        raise NotFound("Workflow", workflow_id)
    return row


def counts(conn: Connection, workflow_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    a = t.workflow_run_actions
    found = {wid: dict.fromkeys(OUTCOMES, 0) for wid in workflow_ids}
    if workflow_ids:
        query = (
            sa.select(a.c.workflow_id, a.c.outcome, sa.func.count())
            .where(a.c.workflow_id.in_(list(workflow_ids)))
            .group_by(a.c.workflow_id, a.c.outcome)
        )
        for workflow_id, outcome, n in conn.execute(query):
            found[workflow_id][outcome] = int(n)
    return found


def _view(row: Any, tally: dict[str, int]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "enabled": bool(row.enabled),
        "reenroll": bool(row.reenroll),
        "trigger": dict(row.trigger),
        "actions": list(row.actions),
        "counts": tally,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "deleted": row.deleted_at is not None,
    }


def view(conn: Connection, workflow_id: int, *, include_deleted: bool = False) -> dict[str, Any]:
    row = _row(conn, workflow_id, include_deleted=include_deleted)
    return _view(row, counts(conn, [row.id])[row.id])


def page(conn: Connection, after: int | None, limit: int) -> dict[str, Any]:
    w = t.workflows
    query = sa.select(w).where(w.c.deleted_at.is_(None))
    if after is not None:
        query = query.where(w.c.id > after)
    rows = conn.execute(query.order_by(w.c.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    tallies = counts(conn, [r.id for r in rows])
    return {"results": [_view(r, tallies[r.id]) for r in rows], "next": str(rows[-1].id) if more else None}


def runs(
    conn: Connection, workflow_id: int, *, after: str | None, limit: int, outcome: str | None, reason: str | None
) -> dict[str, Any]:
    """The run log, oldest first: each enrolled contact and what every action did."""
    _row(conn, workflow_id, include_deleted=True)
    r, a = t.workflow_runs, t.workflow_run_actions
    query = sa.select(r).where(r.c.workflow_id == workflow_id)
    if after:
        query = query.where(r.c.id > after)
    if outcome or reason:
        matching = sa.select(a.c.run_id).where(a.c.workflow_id == workflow_id)
        if outcome:
            matching = matching.where(a.c.outcome == outcome)
        if reason:
            matching = matching.where(a.c.reason == reason)
        query = query.where(r.c.id.in_(matching))
    rows = conn.execute(query.order_by(r.c.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    actions: dict[str, list[dict[str, Any]]] = {row.id: [] for row in rows}
    if rows:
        for act in conn.execute(sa.select(a).where(a.c.run_id.in_(list(actions))).order_by(a.c.run_id, a.c.position)):
            actions[act.run_id].append(
                {
                    "type": act.type,
                    "subscription_type_id": act.subscription_type_id,
                    "business_unit_id": act.business_unit_id,
                    "outcome": act.outcome,
                    "reason": act.reason,
                }
            )
    return {
        "results": [
            {
                "contact_id": row.contact_id,
                "address": row.address,
                "trigger": row.trigger,
                "enrolled_at": row.enrolled_at,
                "finished_at": row.finished_at,
                "actions": actions[row.id],
            }
            for row in rows
        ],
        "next": rows[-1].id if more else None,
    }


# --- enrolling ------------------------------------------------------------------------------


def _enabled(conn: Connection, kinds: Iterable[TriggerType]) -> list[Any]:
    """Enabled workflows whose trigger is of one of `kinds` (JSON is filtered here, not in SQL:
    a handful of workflows, read once per triggering transaction)."""
    w = t.workflows
    wanted = {kind.value for kind in kinds}
    rows = conn.execute(sa.select(w.c.id, w.c.trigger).where(w.c.enabled, w.c.deleted_at.is_(None)).order_by(w.c.id))
    return [row for row in rows if dict(row.trigger).get("type") in wanted]


def queue_enrollment(
    conn: Connection,
    workflow_id: int,
    contact_ids: Sequence[int],
    trigger: str,
    actor_id: str | None,
    db: Database | None = None,
) -> str | None:
    """One job enrolling `contact_ids` (in this order) in the workflow; in the caller's
    transaction. Contacts already enrolled are skipped when the job runs (unless the
    workflow re-enrolls)."""
    if not contact_ids:
        return None
    job_id = queue.insert_job(conn, KIND, {"workflow_id": workflow_id, "trigger": trigger}, actor_id, t.now())
    rows = [
        {"job_id": job_id, "seq": seq, "address": None, "display": None, "contact_id": cid, "error": None}
        for seq, cid in enumerate(contact_ids, start=1)
    ]
    if db is not None:
        db.bulk_insert(conn, t.job_targets, rows)  # COPY on PostgreSQL: a manual enrollment of 100,000
    else:
        conn.execute(t.job_targets.insert(), rows)
    queue.set_total(conn, job_id, len(contact_ids))
    return job_id


def enroll_on_changes(conn: Connection, changes: Sequence[ContactChange]) -> list[str]:
    """Contacts created or updated (any interface, imports included): enroll them in every
    enabled workflow whose trigger this change fires."""
    if not changes:
        return []
    jobs = []
    for workflow in _enabled(conn, (TriggerType.CONTACT_CREATED, TriggerType.PROPERTY_CHANGED)):
        trigger = dict(workflow.trigger)
        fired = [c.contact_id for c in changes if fires_on_change(trigger, c)]
        job = queue_enrollment(conn, workflow.id, fired, str(trigger["type"]), None)
        if job:
            jobs.append(job)
    return jobs


def enroll_on_form(conn: Connection, contact_id: int, business_unit_id: int) -> list[str]:
    """A form submission (the hosted signup page or POST /form-submissions)."""
    jobs = []
    for workflow in _enabled(conn, (TriggerType.FORM_SUBMITTED,)):
        if fires_on_form(dict(workflow.trigger), business_unit_id):
            job = queue_enrollment(conn, workflow.id, [contact_id], TriggerType.FORM_SUBMITTED.value, None)
            if job:
                jobs.append(job)
    return jobs
