"""Appending to the ledger (R24) and its outbox (R25), in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.services import chain
from assent.storage import tables as t
from assent.storage.db import LAST_EVENT_ID, Database, FixedSQL, driver_fetchall, driver_rows, unnest_select
from assent.verifier_standalone import GENESIS, Digester


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Where a change came from, for the evidence."""

    ip: str | None = None
    user_agent: str | None = None
    job_id: str | None = None

    @classmethod
    def from_client(cls, ip: str | None, user_agent: str | None) -> RequestContext:
        return cls(truncate_ip(ip), (user_agent or "")[:500] or None)


@functools.lru_cache(maxsize=4096)  # a pure function, about 20 µs a request: clients repeat
def truncate_ip(ip: str | None) -> str | None:
    """Keep the network, drop the host: /24 for IPv4, /48 for IPv6 (GDPR data minimisation)."""
    if not ip:
        return None
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if parsed.version == 4 else 48
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False).network_address)


#: Taking ids locks the counter row until commit: every other appending transaction waits
#: from here to our commit, so what can be made before (the rows) is made before.
_TAKE_IDS = FixedSQL(
    "UPDATE ledger_counter SET last_id = last_id + :count WHERE id = 1 RETURNING last_id, last_hash, digest_key"
)
_NEW_HEAD = FixedSQL("UPDATE ledger_counter SET last_hash = :head WHERE id = 1")


def append(db: Database, conn: Connection, events: Sequence[dict[str, Any]], at: dt.datetime) -> None:
    """Write events and their outbox rows. Ids come from the counter row, whose lock is
    held until commit: ids are gap-free and in commit order. The chain's head is read and
    replaced under the same lock, so each transaction's events chain onto the last
    committed event (services/chain.py)."""
    if not events:
        return
    rows = [{**_EMPTY, **event, "at": at} for event in events]
    [(last, head, key)] = _TAKE_IDS.fetchall(conn, count=len(rows))
    conn.info[LAST_EVENT_ID] = last  # the write's consistency position (storage/db.py)
    for event_id, row in enumerate(rows, start=last - len(rows) + 1):
        row["id"] = event_id
    new_head = chain.link(rows, head or GENESIS, Digester(bytes.fromhex(key)))
    if not db.is_sqlite and len(rows) <= _ONE_STATEMENT:
        _append_in_one(conn, rows, new_head, at)
        return
    _NEW_HEAD.fetchall(conn, head=new_head)
    db.bulk_insert(conn, t.ledger_events, rows)
    db.bulk_insert(
        conn,
        t.outbox,
        [
            {"event_id": row["id"], "address_hash": row["address_hash"], "created_at": at, "published_at": None}
            for row in rows
        ],
    )


#: up to this many events (a HubSpot batch of 100, a single change), PostgreSQL writes the
#: head, the events and their outbox rows in one statement; more (a job's or an import's chunk
#: of 1,000) go by COPY, as before
_ONE_STATEMENT = 200


def _append_in_one(conn: Connection, rows: Sequence[dict[str, Any]], new_head: str, at: dt.datetime) -> None:
    """PostgreSQL: the new head, the events and the outbox rows in one round trip, not three
    (COPY, COPY, UPDATE). The counter row stays locked from the ids to the commit: every
    round trip in between is one that every other appending transaction waits for."""
    names, select, params = unnest_select(conn, t.ledger_events, rows, keys=("id",), exact=True)
    [[created_at]] = driver_rows(conn, t.outbox, [{"created_at": at}])[1]
    params |= {"assent_head": new_head, "assent_at": created_at}
    columns = ", ".join(f'"{name}"' for name in names)
    driver_fetchall(
        conn,
        "WITH head AS (UPDATE ledger_counter SET last_hash = %(assent_head)s WHERE id = 1),"
        f" events AS (INSERT INTO ledger_events ({columns}) {select} RETURNING id, address_hash)"
        " INSERT INTO outbox (event_id, address_hash, created_at, published_at)"
        " SELECT id, address_hash, %(assent_at)s::TIMESTAMP WITH TIME ZONE, NULL FROM events",
        params,
    )


_EMPTY: dict[str, Any] = {column.name: None for column in t.ledger_events.columns} | {"redacted": False}


def ledger_events_of(address_hashes: Sequence[str]) -> sa.ColumnElement[bool]:
    """The ledger's events of these addresses (a WHERE clause for a page of events)."""
    return t.ledger_events.c.address_hash.in_(list(address_hashes))
