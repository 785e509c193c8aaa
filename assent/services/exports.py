"""CSV exports of any size, memory flat: rows come through a server-side cursor in batches
and are written out as they come. An export reads one snapshot, so it is consistent; the
price is a read transaction open while the client downloads (on PostgreSQL it holds back
vacuum, on SQLite the WAL checkpoint, for that long — about 10 s per million rows here).

- suppressions: every address that must not be mailed, and why — type opt-outs, wide
  opt-outs (spam complaints among them), undeliverable addresses, and erased addresses as
  their keyed hash (R22: the address itself is gone).
- history: the ledger, oldest first, with each event's hash, the hash before it and the
  digests of its personal fields, so that an export and a checkpoint are enough to verify it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.model import ActorClass, EventKind, EventState, Source, Status
from assent.services import csvcells
from assent.storage import tables as t
from assent.storage.db import Database, chunked

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
#: every column of the ledger, the address's keyed hash last (it is what the chain hashes
#: the address as): an export and a checkpoint are enough to verify (verifier_standalone)
HISTORY_COLUMNS = (*(c.name for c in t.ledger_events.columns if c.name != "address_hash"), "address_hash")


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]], rows_per_chunk: int = 1000) -> Iterator[str]:
    """CSV text in chunks of rows, header first. None is written as an empty cell; text
    that a spreadsheet would run as a formula is quoted (services/csvcells.py)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csvcells.row(header))
    for chunk in chunked(rows, rows_per_chunk):
        writer.writerows(csvcells.row(values) for values in chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def suppression_rows(db: Database) -> Iterator[tuple[Any, ...]]:
    """Rows of SUPPRESSION_COLUMNS, in storage order, from one snapshot."""
    s, w, a, e, st = t.subscription_statuses, t.wide_opt_outs, t.addresses, t.erasures, t.subscription_types
    with db.read_replica() as conn:
        unit_of = {r.id: r.business_unit_id for r in conn.execute(sa.select(st.c.id, st.c.business_unit_id))}
        set_by = {source.value: source.actor_class.value for source in Source}
        statuses = sa.select(s.c.channel, s.c.address, s.c.subscription_type_id, s.c.source, s.c.updated_at).where(
            s.c.status == Status.UNSUBSCRIBED.value
        )
        for channel, address, type_id, source, at in _stream(conn, statuses):
            by = set_by.get(source)
            yield channel, address, Status.UNSUBSCRIBED.value, unit_of.get(type_id), type_id, source, by, _iso(at)
        wides = sa.select(w.c.channel, w.c.address, w.c.business_unit_id, w.c.source, w.c.set_by, w.c.at)
        for channel, address, bu_id, source, by, at in _stream(conn, wides):
            complaint = source == Source.SPAM_COMPLAINT.value
            kind = Source.SPAM_COMPLAINT.value if complaint else EventKind.WIDE_OPT_OUT.value
            yield channel, address, kind, bu_id, None, source, by, _iso(at)
        # Only a bounce (a provider, or a user reporting one) marks an address undeliverable,
        # at `undeliverable_at` (older rows: their last update, as near as they know).
        bounce = (Source.BOUNCE.value, ActorClass.PROVIDER.value)
        bounced = sa.select(a.c.channel, a.c.address, sa.func.coalesce(a.c.undeliverable_at, a.c.updated_at)).where(
            a.c.undeliverable.is_(True)
        )
        for channel, address, at in _stream(conn, bounced):
            yield channel, address, EventKind.UNDELIVERABLE.value, None, None, *bounce, _iso(at)
        erasure = (Source.ERASURE.value, ActorClass.SYSTEM.value)
        for channel, address_hash, at in _stream(conn, sa.select(e.c.channel, e.c.address_hash, e.c.at)):
            yield channel, address_hash, EventState.ERASED.value, None, None, *erasure, _iso(at)


def history_rows(db: Database, after: int = 0) -> Iterator[tuple[Any, ...]]:
    """Rows of HISTORY_COLUMNS in id order, from one snapshot."""
    e = t.ledger_events
    at, redacted = HISTORY_COLUMNS.index("at"), HISTORY_COLUMNS.index("redacted")
    query = sa.select(*(e.c[name] for name in HISTORY_COLUMNS)).where(e.c.id > after).order_by(e.c.id)
    with db.read_replica() as conn:
        for row in _stream(conn, query):
            values = list(row)
            values[at] = _iso(values[at])
            values[redacted] = "true" if values[redacted] else "false"
            yield tuple(values)


def _stream(conn: Connection, query: sa.Select[Any]) -> Iterator[Any]:
    """Rows fetched BATCH at a time through a server-side cursor: memory stays flat however
    many there are, and every batch comes from the same snapshot."""
    yield from conn.execution_options(stream_results=True, yield_per=BATCH).execute(query)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
