"""CSV exports of any size, memory flat: rows are read in keyset batches, each batch in
its own short read transaction (a slow reader never holds a snapshot open for an hour),
and written out as they come.

- suppressions: every address that must not be mailed, and why — type opt-outs, wide
  opt-outs (spam complaints among them), undeliverable addresses, and erased addresses as
  their keyed hash (R22: the address itself is gone).
- history: the ledger, oldest first.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from assent.domain.model import ActorClass, Source, Status
from assent.storage import tables as t
from assent.storage.db import Database

BATCH = 5000

SUPPRESSION_COLUMNS = (
    "channel",
    "address",
    "kind",
    "business_unit_id",
    "subscription_type_id",
    "source",
    "set_by",
    "at",
)
HISTORY_COLUMNS = tuple(c.name for c in t.ledger_events.columns if c.name != "address_hash")


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]], rows_per_chunk: int = 1000) -> Iterator[str]:
    """CSV text in chunks of rows, header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(["" if v is None else _cell(v) for v in row])
        count += 1
        if count == rows_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            count = 0
    yield buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def suppression_rows(db: Database) -> Iterator[tuple[Any, ...]]:
    with db.read() as conn:
        st = t.subscription_types
        unit_of: dict[int, int] = {
            r.id: r.business_unit_id for r in conn.execute(sa.select(st.c.id, st.c.business_unit_id))
        }
    s, w, a, e = t.subscription_statuses, t.wide_opt_outs, t.addresses, t.erasures
    for r in _batches(db, s, (s.c.address, s.c.subscription_type_id), s.c.status == Status.UNSUBSCRIBED.value):
        yield (
            r.channel,
            r.address,
            "UNSUBSCRIBED",
            unit_of.get(r.subscription_type_id),
            r.subscription_type_id,
            r.source,
            _set_by(r.source),
            r.updated_at,
        )
    for r in _batches(db, w, (w.c.address, w.c.channel, w.c.business_unit_id)):
        kind = "SPAM_COMPLAINT" if r.source == Source.SPAM_COMPLAINT.value else "WIDE_OPT_OUT"
        yield (r.channel, r.address, kind, r.business_unit_id, None, r.source, r.set_by, r.at)
    for r in _batches(db, a, (a.c.address, a.c.channel), a.c.undeliverable.is_(True)):
        # Only a bounce (a provider, or a user reporting one) marks an address undeliverable;
        # the row's last update is when that happened, as near as this table knows.
        bounce = (Source.BOUNCE.value, ActorClass.PROVIDER.value)
        yield (r.channel, r.address, "UNDELIVERABLE", None, None, *bounce, r.updated_at)
    for r in _batches(db, e, (e.c.address_hash, e.c.channel)):
        yield (r.channel, r.address_hash, "ERASED", None, None, Source.ERASURE.value, ActorClass.SYSTEM.value, r.at)


def history_rows(db: Database, after: int = 0) -> Iterator[tuple[Any, ...]]:
    e = t.ledger_events
    columns = [e.c[name] for name in HISTORY_COLUMNS]
    while True:
        with db.read() as conn:
            rows = conn.execute(sa.select(*columns).where(e.c.id > after).order_by(e.c.id).limit(BATCH)).all()
        yield from (tuple(row) for row in rows)
        if len(rows) < BATCH:
            return
        after = rows[-1].id


def _batches(db: Database, table: sa.Table, key: Sequence[sa.Column[Any]], where: Any = None) -> Iterator[Any]:
    """Rows of `table` in key order, BATCH at a time, resuming after the last key seen."""
    last: tuple[Any, ...] | None = None
    while True:
        query = sa.select(table).order_by(*key).limit(BATCH)
        if where is not None:
            query = query.where(where)
        if last is not None:
            query = query.where(sa.tuple_(*key) > sa.tuple_(*last))
        with db.read() as conn:
            rows = conn.execute(query).all()
        yield from rows
        if len(rows) < BATCH:
            return
        last = tuple(getattr(rows[-1], column.name) for column in key)


def _set_by(source: str) -> str:
    try:
        return Source(source).actor_class.value
    except ValueError:
        return ""
