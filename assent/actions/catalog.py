"""Business units and subscription types: create, edit, archive, reorder — each audited."""

from __future__ import annotations

from typing import Any

from assent.domain.audit import AuditActor, AuditTag
from assent.services import audit, catalog
from assent.services.ledger import RequestContext
from assent.storage.db import Database


def create_business_unit(
    db: Database, values: dict[str, Any], by: AuditActor, context: RequestContext | None = None
) -> dict[str, Any]:
    with db.write() as conn:
        created = catalog.create_business_unit(conn, values)
        audit.record(conn, AuditTag.BUSINESS_UNIT_CREATED, by, context, subject_id=created["id"], after=created)
    return created


def update_business_unit(
    db: Database, business_unit_id: int, values: dict[str, Any], by: AuditActor, context: RequestContext | None = None
) -> dict[str, Any]:
    with db.write() as conn:
        current = catalog.get_business_unit(conn, business_unit_id)
        saved = catalog.update_business_unit(conn, business_unit_id, values)
        before, after = audit.changed(current, saved)
        if after:
            tag = AuditTag.BUSINESS_UNIT_UPDATED
            audit.record(conn, tag, by, context, subject_id=business_unit_id, before=before, after=after)
    return saved


def create_subscription_type(
    db: Database, values: dict[str, Any], by: AuditActor, context: RequestContext | None = None
) -> dict[str, Any]:
    with db.write() as conn:
        created = catalog.create_subscription_type(conn, values)
        audit.record(conn, AuditTag.SUBSCRIPTION_TYPE_CREATED, by, context, subject_id=created["id"], after=created)
    return created


def update_subscription_type(
    db: Database, type_id: int, values: dict[str, Any], by: AuditActor, context: RequestContext | None = None
) -> dict[str, Any]:
    """Edit a type; `is_active` false archives it (statuses and history stay), true restores."""
    with db.write() as conn:
        current = catalog.get_subscription_type(conn, type_id)
        saved = catalog.update_subscription_type(conn, type_id, values)
        before, after = audit.changed(current, saved)
        if after:
            tag = AuditTag.SUBSCRIPTION_TYPE_UPDATED
            if after.get("is_active") is False:
                tag = AuditTag.SUBSCRIPTION_TYPE_ARCHIVED
            elif after.get("is_active") is True:
                tag = AuditTag.SUBSCRIPTION_TYPE_RESTORED
            audit.record(conn, tag, by, context, subject_id=type_id, before=before, after=after)
    return saved


def move_subscription_type(
    db: Database, type_id: int, up: bool, by: AuditActor, context: RequestContext | None = None
) -> dict[str, Any]:
    """One place up or down among the types of its business unit and channel."""
    with db.write() as conn:
        ty = catalog.get_subscription_type(conn, type_id)
        siblings = catalog.list_subscription_types(
            conn, business_unit_id=ty["business_unit_id"], channel=ty["channel"], include_inactive=True
        )
        order = [s["id"] for s in siblings]
        here = order.index(type_id)
        there = here - 1 if up else here + 1
        if 0 <= there < len(order):
            moved = [*order]
            moved[here], moved[there] = moved[there], moved[here]
            catalog.reorder_subscription_types(conn, moved)
            audit.record(
                conn,
                AuditTag.SUBSCRIPTION_TYPE_MOVED,
                by,
                context,
                subject_id=type_id,
                before={"order": order},
                after={"order": moved},
            )
    return ty
