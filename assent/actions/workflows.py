"""Workflows (R23): create, change, delete, and enroll contacts by hand or by search.

A workflow is checked when saved: its types exist and are on the action's channel, its units
exist, and — in data privacy mode — an opt-in action carries the evidence the rules ask of a
workflow (asked of `rules.judge_status_change`, not restated). Turning data privacy mode on
later makes such an action refuse per contact, with its reason, when it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.model import Channel, Status
from assent.domain.rules import EVIDENCE_REASONS, judge_status_change
from assent.domain.workflows import ActionType, TriggerType
from assent.jobs.selection import ContactSearch, search_condition
from assent.jobs.workflows import actor_of, evidence_of
from assent.services import workflows as reading
from assent.services.errors import Collected, Conflict, Problem
from assent.services.evidence import evidence_problem
from assent.services.state import Account, load_account, load_types
from assent.storage import tables as t
from assent.storage.db import Database

__all__ = ["create_workflow", "delete_workflow", "enroll", "update_workflow"]


def _check(conn: Connection, account: Account, trigger: dict[str, Any], actions: Sequence[dict[str, Any]]) -> None:
    problems = Collected()
    if trigger.get("type") == TriggerType.PROPERTY_CHANGED and not str(trigger.get("property") or "").strip():
        problems.add("trigger.property", "name the property (or contact field) to watch", "REQUIRED")
    units = set(conn.execute(sa.select(t.business_units.c.id)).scalars())
    form_unit = trigger.get("business_unit_id") if trigger.get("type") == TriggerType.FORM_SUBMITTED else None
    if form_unit is not None and form_unit not in units:
        problems.add("trigger.business_unit_id", f"business unit {trigger['business_unit_id']} does not exist")
    types = load_types(conn, {int(a["subscription_type_id"]) for a in actions if a.get("subscription_type_id")})
    if not actions:
        problems.add("actions", "give at least one action", "REQUIRED")
    for index, action in enumerate(actions):
        where = f"actions[{index}]"
        channel = Channel(action["channel"])
        if action["type"] == ActionType.SET_SUBSCRIPTION_STATUS:
            type_id = action.get("subscription_type_id")
            found = types.get(int(type_id)) if type_id is not None else None
            if found is None:
                problems.add(f"{where}.subscription_type_id", f"subscription type {type_id} does not exist",
                             "UNKNOWN_SUBSCRIPTION_TYPE")  # fmt: skip
            elif found.channel is not channel:
                problems.add(f"{where}.subscription_type_id",
                             f"subscription type {type_id} is a {found.channel.value} type, not {channel.value}",
                             "WRONG_CHANNEL")  # fmt: skip
            if action.get("status") is None:
                problems.add(f"{where}.status", "choose SUBSCRIBED, NOT_SPECIFIED or UNSUBSCRIBED", "REQUIRED")
        elif action.get("business_unit_id") not in units:
            problems.add(f"{where}.business_unit_id", f"business unit {action.get('business_unit_id')} does not exist")
    problems.raise_if_any()
    for index, action in enumerate(actions):
        if action["type"] != ActionType.SET_SUBSCRIPTION_STATUS or action.get("status") != Status.SUBSCRIBED:
            continue
        verdict = judge_status_change(
            current=Status.NOT_SPECIFIED,
            target=Status.SUBSCRIBED,
            actor=actor_of(0),
            evidence=evidence_of(action),
            policy=account.policy,
            has_processing_basis=False,
        )
        if verdict.reason in EVIDENCE_REASONS:
            problem = evidence_problem(verdict.reason.value if verdict.reason else "")
            for error in problem.errors:
                error.field = f"actions[{index}].{error.field}"
            raise Problem(problem.code, f"actions[{index}]: {problem.detail}", errors=problem.errors, status=422)


def create_workflow(db: Database, values: dict[str, Any], *, actor_id: str | None) -> dict[str, Any]:
    with db.write() as conn:
        _check(conn, load_account(conn), values["trigger"], values["actions"])
        now = t.now()
        workflow_id = conn.execute(
            t.workflows.insert()
            .values(
                name=values["name"],
                enabled=values.get("enabled", True),
                reenroll=values.get("reenroll", False),
                trigger=values["trigger"],
                actions=values["actions"],
                created_by=actor_id,
                created_at=now,
                updated_at=now,
            )
            .returning(t.workflows.c.id)
        ).scalar_one()
        return reading.view(conn, workflow_id)


def update_workflow(db: Database, workflow_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """PATCH: enabling a workflow does not enroll the past; it acts on triggers from now on."""
    with db.write() as conn:
        current = reading.view(conn, workflow_id)
        merged = {**current, **changes}
        if "trigger" in changes or "actions" in changes:
            _check(conn, load_account(conn), merged["trigger"], merged["actions"])
        values = {k: changes[k] for k in ("name", "enabled", "reenroll", "trigger", "actions") if k in changes}
        if values:
            w = t.workflows
            conn.execute(sa.update(w).where(w.c.id == workflow_id).values(**values, updated_at=t.now()))
        return reading.view(conn, workflow_id)


def delete_workflow(db: Database, workflow_id: int) -> None:
    """The workflow stops; its run log stays readable."""
    with db.write() as conn:
        reading.view(conn, workflow_id)
        w = t.workflows
        conn.execute(sa.update(w).where(w.c.id == workflow_id).values(deleted_at=t.now(), enabled=False))


def enroll(
    db: Database,
    workflow_id: int,
    *,
    contact_ids: Sequence[int] | None,
    search: ContactSearch | None,
    actor_id: str | None,
) -> dict[str, Any]:
    """Enroll contacts by id or by the bulk-update search, as a job (202)."""
    with db.write() as conn:
        workflow = reading.view(conn, workflow_id)
        if not workflow["enabled"]:
            raise Conflict("WORKFLOW_DISABLED", f"workflow {workflow_id} is disabled: enable it to enroll contacts")
        if search is not None:
            where = search_condition(conn, load_account(conn), search)
            c = t.contacts
            ids = list(conn.execute(sa.select(c.c.id).where(where).order_by(c.c.id)).scalars())
        else:
            ids = list(dict.fromkeys(contact_ids or ()))
        job_id = reading.queue_enrollment(conn, workflow_id, ids, TriggerType.MANUAL.value, actor_id, db)
    return {"workflow_id": workflow_id, "job_id": job_id, "contacts": len(ids)}
