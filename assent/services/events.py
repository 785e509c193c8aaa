"""Reading the ledger — the one reader every interface uses: the admin's Activity screen
and History tab (`page`), the API's per-address history (`history_page`) and its feed
(`feed_page`), and the `data` of every outbound webhook (`public_events`, one shape:
`EventOut`). Newest first (or, for the feed, oldest first), keyset-paged on the event id,
and fast at millions of events without extra indexes.

- An address filter uses the ledger's primary key (address hash, id).
- A date range becomes an id range by bisecting the unique id index (ids are handed out in
  commit order, so time grows with them, give or take concurrent transactions — a margin
  covers that, and `at` is still filtered exactly).
- Other filters (type, source, actor) are checked while walking ids downwards, at most
  `SCAN` ids per page; when a page comes back short, "older" continues from where the walk
  stopped. No page ever reads more than that, however rare the value asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from assent.services import sms
from assent.services.errors import Invalid
from assent.storage import tables as t
from assent.storage.db import among

PAGE = 50
#: the actor id of a change a text message made: "twilio:<MessageSid>"
TEXT_ACTOR = "twilio:"
SCAN = 50_000
#: how far ids and times may disagree (events of transactions that overlapped)
_SKEW_IDS = 10_000


@dataclass
class Filters:
    address_hashes: Sequence[str] = ()
    subscription_type_id: int | None = None
    source: str | None = None
    actor_kind: str | None = None
    actor_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None  # exclusive

    @property
    def scanning(self) -> bool:
        """Filters with no index of their own: walk ids instead."""
        return not self.address_hashes and any(
            v is not None for v in (self.subscription_type_id, self.source, self.actor_kind, self.actor_id)
        )


@dataclass
class Page:
    rows: list[dict[str, Any]]
    #: pass as `before` for the next (older) page; None when there is nothing older
    older: int | None
    #: the lowest id this page looked at, when it walked ids (to tell the user)
    searched_to: int | None = None
    names: dict[str, dict[Any, str]] = field(default_factory=dict)


def _last_id(conn: Connection) -> int:
    return int(conn.execute(sa.select(t.ledger_counter.c.last_id)).scalar_one())


def first_id_at_or_after(conn: Connection, when: dt.datetime) -> int:
    """The smallest id whose event is at or after `when`, bisecting the unique id index."""
    e = t.ledger_events
    lo, hi = 1, _last_id(conn) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        at = conn.execute(sa.select(e.c.at).where(e.c.id >= mid).order_by(e.c.id).limit(1)).scalar()
        if at is None or at >= when:
            hi = mid
        else:
            lo = mid + 1
    return lo


def page(conn: Connection, filters: Filters, before: int | None, limit: int = PAGE) -> Page:
    e = t.ledger_events
    upper = min(before, _last_id(conn) + 1) if before is not None else _last_id(conn) + 1
    lower = 1
    where: list[Any] = []
    if filters.since is not None:
        lower = max(lower, first_id_at_or_after(conn, filters.since) - _SKEW_IDS)
        where.append(e.c.at >= filters.since)
    if filters.until is not None:
        upper = min(upper, first_id_at_or_after(conn, filters.until) + _SKEW_IDS)
        where.append(e.c.at < filters.until)
    if filters.address_hashes:
        where.append(e.c.address_hash.in_(list(filters.address_hashes)))
    if filters.subscription_type_id is not None:
        where.append(e.c.subscription_type_id == filters.subscription_type_id)
    if filters.source:
        where.append(e.c.source == filters.source)
    if filters.actor_kind:
        where.append(e.c.actor_kind == filters.actor_kind)
    if filters.actor_id:
        where.append(e.c.actor_id == filters.actor_id)
    walk_to = max(lower, upper - SCAN) if filters.scanning else lower
    query = sa.select(e).where(e.c.id < upper, e.c.id >= walk_to, *where).order_by(e.c.id.desc()).limit(limit + 1)
    rows = [dict(r._mapping) for r in conn.execute(query)]
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(rows, rows[-1]["id"])
    # Short page: everything down to walk_to was seen. Older events remain only if the
    # walk stopped before the lower bound.
    older = walk_to if walk_to > lower else None
    return Page(rows, older, walk_to if filters.scanning else None)


def names(conn: Connection, rows: Sequence[dict[str, Any]]) -> dict[str, dict[Any, Any]]:
    """Names for what events refer to by id: types, business units, users, text messages."""
    type_ids = {r["subscription_type_id"] for r in rows if r["subscription_type_id"]}
    st, bu, u = t.subscription_types, t.business_units, t.users
    types = dict(conn.execute(sa.select(st.c.id, st.c.name).where(st.c.id.in_(type_ids))).all()) if type_ids else {}
    units = dict(conn.execute(sa.select(bu.c.id, bu.c.name)).all())
    user_ids = {
        int(r["actor_id"].removeprefix("user:"))
        for r in rows
        if (r["actor_id"] or "").startswith("user:") and r["actor_id"].removeprefix("user:").isdecimal()
    }
    people = (
        {f"user:{i}": email for i, email in conn.execute(sa.select(u.c.id, u.c.email).where(u.c.id.in_(user_ids)))}
        if user_ids
        else {}
    )
    # Changes made by a text message (actor "twilio:<MessageSid>"): the message, its keyword
    # and the reply sent, from the inbound record (services/sms.py).
    texts = {r["actor_id"].removeprefix(TEXT_ACTOR) for r in rows if (r["actor_id"] or "").startswith(TEXT_ACTOR)}
    messages = sms.messages_for(conn, {r["address_hash"] for r in rows}, texts) if texts else {}
    return {"types": types, "units": units, "users": people, "messages": messages}


def parse_cursor(cursor: str | None, field: str = "cursor") -> int | None:
    if cursor is None or cursor == "":
        return None
    if not cursor.isdecimal() or len(cursor) > 18:
        raise Invalid(field, "not a cursor this API returned")
    return int(cursor)


def event_dict(row: Any) -> dict[str, Any]:
    """An event as the API shows it: every column but the address hash."""
    event = {c.name: row[c.name] for c in t.ledger_events.columns if c.name != "address_hash"}
    # A workflow's events name it as their actor ("workflow:<id>", jobs/workflows.py).
    workflow = (event.get("actor_id") or "").removeprefix("workflow:")
    event["workflow_id"] = int(workflow) if event.get("source") == "WORKFLOW" and workflow.isdecimal() else None
    return event


class EventOut(BaseModel):
    """An event as every interface shows it: the API feed and history, and the `data` of a
    webhook (jobs/dispatcher.py) are this one shape."""

    id: int
    at: dt.datetime
    kind: str
    channel: str
    address: str | None
    business_unit_id: int | None
    subscription_type_id: int | None
    old_status: str | None
    new_status: str | None
    legal_basis: str | None
    legal_basis_explanation: str | None
    processing_legal_basis: str | None
    source: str
    actor_kind: str
    actor_id: str | None
    ip: str | None
    user_agent: str | None
    job_id: str | None
    #: the workflow whose action wrote this event (R23)
    workflow_id: int | None = None
    notice_version: str | None
    notice_text: str | None
    redacted: bool
    hash: str | None = Field(None, description="SHA-256 of the event in the ledger's hash chain (README, Evidence)")
    prev_hash: str | None = Field(None, description="the hash of the event before it")


def public_events(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Events by id, as JSON-ready dicts exactly as the feed shows them (read now, so an
    erasure's redaction since the event was written is what goes out): the `data` of a
    webhook.

    Built straight from the row, field by field in `EventOut`'s order, without validating
    through the model: the columns already have the fields' types, and the only conversion
    `model_dump(mode="json")` makes is `at` to ISO 8601 with a "Z" (tests/webhooks/
    test_payload.py holds the two equal). The dispatcher reads thousands a second."""
    if not ids:
        return {}
    e = t.ledger_events
    rows = conn.execute(sa.select(*_PUBLIC_COLUMNS).where(among(conn, e.c.id, ids)))
    found: dict[int, dict[str, Any]] = {}
    for row in rows:
        event = dict(zip(_PUBLIC_FIELDS, row, strict=True))
        workflow = (event["actor_id"] or "").removeprefix("workflow:")
        event["workflow_id"] = int(workflow) if event["source"] == "WORKFLOW" and workflow.isdecimal() else None
        event["at"] = event["at"].astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        found[event["id"]] = event
    return found


#: `EventOut`'s fields in its order, each the ledger column of its name (`workflow_id` is
#: derived, as in `event_dict`: a NULL stands in its place in the select)
_PUBLIC_FIELDS = tuple(EventOut.model_fields)
_PUBLIC_COLUMNS = [
    sa.null().label(name) if name == "workflow_id" else t.ledger_events.c[name] for name in _PUBLIC_FIELDS
]
assert [n for n, f in EventOut.model_fields.items() if f.annotation in (dt.datetime, dt.datetime | None)] == ["at"]


def history_page(conn: Connection, address_hashes: Sequence[str], cursor: str | None, limit: int) -> dict[str, Any]:
    """The events of these addresses, newest first; `next` is the cursor of the next page."""
    found = page(conn, Filters(address_hashes=address_hashes), parse_cursor(cursor), limit)
    return {"results": [event_dict(r) for r in found.rows], "next": str(found.older) if found.older else None}


def feed_page(conn: Connection, after: str | None, limit: int) -> dict[str, Any]:
    """The ledger as a feed, oldest first, from the event after `after`. `next` is the
    cursor to poll with: the last id seen (ids are gap-free and in commit order)."""
    e = t.ledger_events
    position = parse_cursor(after, "after") or 0
    rows = [dict(r._mapping) for r in conn.execute(sa.select(e).where(e.c.id > position).order_by(e.c.id).limit(limit))]
    following = str(rows[-1]["id"]) if rows else (after or "0")
    return {"results": [event_dict(r) for r in rows], "next": following}
