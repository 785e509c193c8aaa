"""The audit log of account changes: written by actions inside their transaction, read by
`GET /api/v1/audit` and the admin's Activity page."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.audit import AuditActor, AuditTag
from assent.services.errors import Invalid
from assent.services.ledger import RequestContext
from assent.storage import tables as t


def _plain(value: Any) -> Any:
    """JSON-safe: datetimes as ISO 8601 text."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, dt.datetime) else str(v)))


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields whose value differs, on both sides."""
    names = [k for k in after if k != "updated_at" and before.get(k) != after.get(k)]
    return {k: before.get(k) for k in names}, {k: after.get(k) for k in names}


def record(
    conn: Connection,
    tag: AuditTag,
    by: AuditActor,
    context: RequestContext | None,
    *,
    subject_id: object = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """One audit row, in the caller's (the action's) transaction."""
    conn.execute(
        t.audit_events.insert().values(
            at=t.now(),
            tag=tag.value,
            subject_id=None if subject_id is None else str(subject_id),
            actor_kind=by.kind.value,
            actor_id=by.id,
            before=None if before is None else _plain(before),
            after=None if after is None else _plain(after),
            ip=context.ip if context else None,
            user_agent=context.user_agent if context else None,
        )
    )


def page(
    conn: Connection, *, tag: str | None, after: int | None, limit: int, newest_first: bool = False
) -> dict[str, Any]:
    """Audit rows after the id `after` (oldest first) or before it (newest first); with `tag`,
    those whose tag is it or starts with it at a ":" ("catalog", "catalog:subscription_type",
    a whole tag). `next` is the cursor of the following page, null on the last one."""
    a = t.audit_events
    query = sa.select(a)
    if tag:
        base = tag.rstrip(":")
        if not any(value == base or value.startswith(base + ":") for value in AuditTag):
            raise Invalid("tag", f"no audit tag is or starts with {tag!r}", "UNKNOWN_TAG")
        # A range rather than LIKE: "_" in a tag would be a LIKE wildcard (";" follows ":").
        query = query.where(sa.or_(a.c.tag == base, sa.and_(a.c.tag > base + ":", a.c.tag < base + ";")))
    if after is not None:
        query = query.where(a.c.id < after if newest_first else a.c.id > after)
    query = query.order_by(a.c.id.desc() if newest_first else a.c.id).limit(limit + 1)
    rows = [dict(r._mapping) for r in conn.execute(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    return {"results": rows, "next": str(rows[-1]["id"]) if more else None}
