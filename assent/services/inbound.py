"""What provider feedback needs from storage: the catalog the mapping reads, and the
records that make each provider event count once (issue 13)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from assent.domain.feedback import Catalog, TypeRef
from assent.domain.model import Channel
from assent.storage import tables as t

#: a webhook token is remembered this long (its timestamp is fresh for five minutes)
TOKEN_MEMORY = dt.timedelta(days=1)


def load_catalog(conn: Connection) -> Catalog:
    st = t.subscription_types
    rows = conn.execute(
        sa.select(st.c.id, st.c.business_unit_id, st.c.sendgrid_group_id).where(st.c.channel == Channel.EMAIL.value)
    ).all()
    units = set(conn.execute(sa.select(t.business_units.c.id)).scalars())
    return Catalog(
        types={r.id: TypeRef(r.id, r.business_unit_id) for r in rows},
        units=units,
        groups={r.sendgrid_group_id: r.id for r in rows if r.sendgrid_group_id is not None},
    )


def _insert_new(
    conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> set[tuple[Any, ...]]:
    """Insert rows whose key is not there yet; the keys of those inserted. A concurrent
    transaction inserting the same key makes PostgreSQL wait for it, then skip the row:
    of two deliveries of one event racing, exactly one claims it."""
    if not rows:
        return set()
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    ordered = sorted(rows, key=lambda row: tuple(row[k] for k in keys))  # lock order: no deadlock
    claimed: set[tuple[Any, ...]] = set()
    for start in range(0, len(ordered), 500):
        statement = (
            dialect.insert(table)
            .values(ordered[start : start + 500])
            .on_conflict_do_nothing(index_elements=list(keys))
            .returning(*(table.c[k] for k in keys))
        )
        claimed.update(tuple(row) for row in conn.execute(statement))
    return claimed


def known_events(conn: Connection, provider: str, event_ids: Sequence[str]) -> set[str]:
    """Which of these events were already applied (a retry, or a replay)."""
    e = t.inbound_events
    found: set[str] = set()
    unique = sorted(set(event_ids))
    for start in range(0, len(unique), 1000):
        found.update(
            conn.execute(
                sa.select(e.c.event_id).where(e.c.provider == provider, e.c.event_id.in_(unique[start : start + 1000]))
            ).scalars()
        )
    return found


def record_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Record events as applied, in the caller's transaction; the ids this call recorded
    (an id another transaction recorded meanwhile is left out: that one applies it)."""
    return {event_id for _, event_id in _insert_new(conn, t.inbound_events, rows, ("provider", "event_id"))}


def claim_token(conn: Connection, provider: str, token: str, at: dt.datetime) -> bool:
    """True the first time a token is seen, False ever after (within TOKEN_MEMORY)."""
    tokens = t.inbound_tokens
    conn.execute(sa.delete(tokens).where(tokens.c.seen_at < at - TOKEN_MEMORY))
    row = {"provider": provider, "token": token, "seen_at": at}
    return bool(_insert_new(conn, tokens, [row], ("provider", "token")))
