"""The statements over `webhook_deliveries` that keep each lane (endpoint, address) in
ledger order: which row is a lane's head, which lanes are busy, and handing a lane's turn
on when its head is delivered or given up (jobs/dispatcher.py runs them)."""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from assent.domain.webhooks import DeliveryState
from assent.jobs.webhook_slots import Claimed, Done
from assent.storage import tables as t
from assent.storage.db import Database, among

PENDING = DeliveryState.PENDING.value
T = TypeVar("T")


def keys(conn: sa.Connection, column: sa.ColumnElement[Any], values: list[Any]) -> sa.ColumnElement[bool]:
    """`column IN (values)` for event ids or address hashes (digits, hex: never a comma).
    On PostgreSQL one text parameter split by the server: psycopg's array dumper costs
    more CPU per element than the rest of a delivery's recording."""
    if conn.dialect.name != "postgresql":
        return column.in_(values)
    joined = sa.bindparam(None, ",".join(map(str, values)), type_=sa.Text)
    return column == sa.any_(sa.cast(sa.func.string_to_array(joined, ","), postgresql.ARRAY(column.type)))


def lease_free(now: dt.datetime) -> sa.ColumnElement[bool]:
    d = t.webhook_deliveries
    return sa.or_(d.c.lease_until.is_(None), d.c.lease_until < now)


def lane_head(d: Any, p: Any) -> sa.ColumnElement[bool]:
    """`d`'s row is its lane's earliest PENDING row (no earlier one waits). Written as the
    lane's minimum rather than NOT EXISTS: a correlated aggregate stays one probe of the lane
    index per row, where an anti-join can be planned as a scan of every pending row."""
    event_id: sa.ColumnElement[int] = d.c.event_id
    return event_id == (
        sa.select(sa.func.min(p.c.event_id))
        .where(p.c.endpoint_id == d.c.endpoint_id, p.c.address_hash == d.c.address_hash, p.c.state == PENDING)
        .scalar_subquery()
    )


def heads(db: Database, endpoint_id: str, heads: sa.ScalarSelect[Any]) -> sa.ColumnElement[bool]:
    """The rows `heads` found (and locked). On PostgreSQL by their physical address (a TID
    scan, `ctid = ANY(ARRAY(…))`): the subquery runs once and the planner cannot choose a
    scan of every row of the endpoint, whatever its (possibly stale) statistics say. The
    rows are locked by this statement, so their ctid cannot change under it."""
    d = t.webhook_deliveries
    if db.is_sqlite:
        return sa.and_(d.c.endpoint_id == endpoint_id, d.c.event_id.in_(heads))
    return sa.literal_column("webhook_deliveries.ctid") == sa.any_(sa.func.array(heads))


def busy_lanes(conn: sa.Connection, endpoint_ids: set[str], hashes: set[str]) -> set[tuple[str, str]]:
    """Lanes that already have a PENDING row. Touching those rows (a no-op update) makes a
    concurrent completion of the lane's head wait for this fan-out, or this fan-out wait for
    it and then see the head gone: either way the turn is handed on (PostgreSQL; SQLite's
    write transactions are exclusive anyway)."""
    d = t.webhook_deliveries
    busy: set[tuple[str, str]] = set()
    for chunk in chunks(sorted(hashes), 5000):
        touched = conn.execute(
            sa.update(d)
            .where(d.c.state == PENDING, among(conn, d.c.endpoint_id, sorted(endpoint_ids)))
            .where(keys(conn, d.c.address_hash, chunk))
            .values(state=d.c.state)
            .returning(d.c.endpoint_id, d.c.address_hash)
        )
        busy.update((r.endpoint_id, r.address_hash) for r in touched)
    return busy


def record_delivered(conn: sa.Connection, done: list[Done], owner: str, now: dt.datetime) -> set[tuple[str, int]]:
    """The delivered ones, set-based: a few statements per endpoint, not per event. Returns
    the rows that were still ours; their lanes' next rows become due."""
    d = t.webhook_deliveries
    p = d.alias("earlier")
    moved: set[tuple[str, int]] = set()
    groups: dict[tuple[str, int | None], list[Done]] = collections.defaultdict(list)
    for item in done:
        groups[(item.claimed.endpoint_id, item.result.status_code)].append(item)
    for (endpoint_id, status), items in groups.items():
        for chunk in chunks(items, 1000):
            rows = conn.execute(
                sa.update(d)
                .where(d.c.endpoint_id == endpoint_id, keys(conn, d.c.event_id, [i.claimed.event_id for i in chunk]))
                .where(d.c.state == PENDING, d.c.lease_owner == owner)
                .values(
                    state=DeliveryState.DELIVERED.value,
                    attempts=d.c.attempts + 1,
                    first_attempt_at=sa.func.coalesce(d.c.first_attempt_at, now),
                    last_status_code=status,
                    last_error=None,
                    lease_owner=None,
                    lease_until=None,
                    next_attempt_at=None,
                    finished_at=now,
                )
                .returning(d.c.event_id, d.c.address_hash)
            ).all()
            moved.update((endpoint_id, r.event_id) for r in rows)
            hashes = sorted({r.address_hash for r in rows})
            if hashes and _any_waiting(conn, endpoint_id):  # each lane's next row, if it waits, is due now
                conn.execute(
                    sa.update(d)
                    .where(d.c.endpoint_id == endpoint_id, keys(conn, d.c.address_hash, hashes), d.c.state == PENDING)
                    .where(d.c.next_attempt_at.is_(None), lane_head(d, p))
                    .values(next_attempt_at=now)
                )
    return moved


def _any_waiting(conn: sa.Connection, endpoint_id: str) -> bool:
    """Whether any row of the endpoint waits for its lane's turn (one probe of the due
    index): in a backlog of distinct addresses none does, and the hand-on's probe of every
    lane is skipped. A fan-out writing a waiting row behind one of these heads has touched
    the head first (`busy_lanes`), so it committed before the update above (and is seen by
    this later statement), or it waits for this transaction and then finds no head."""
    d = t.webhook_deliveries
    query = sa.select(d.c.event_id).where(
        d.c.endpoint_id == endpoint_id, d.c.state == PENDING, d.c.next_attempt_at.is_(None)
    )
    return conn.execute(query.limit(1)).first() is not None


def hand_on(conn: sa.Connection, item: Claimed, now: dt.datetime) -> None:
    """The lane's head left PENDING: its next row is due."""
    d = t.webhook_deliveries
    following = conn.execute(
        sa.select(sa.func.min(d.c.event_id)).where(
            d.c.endpoint_id == item.endpoint_id,
            d.c.address_hash == item.address_hash,
            d.c.state == PENDING,
            d.c.event_id > item.event_id,
        )
    ).scalar()
    if following is not None:
        conn.execute(
            sa.update(d)
            .where(d.c.endpoint_id == item.endpoint_id, d.c.event_id == following, d.c.next_attempt_at.is_(None))
            .values(next_attempt_at=now)
        )


def chunks(items: list[T], size: int) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
