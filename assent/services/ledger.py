"""Appending to the ledger (R24) and its outbox (R25), in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.services import chain
from assent.storage import tables as t
from assent.storage.db import LAST_EVENT_ID, Database, FixedSQL
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


_EMPTY: dict[str, Any] = {column.name: None for column in t.ledger_events.columns} | {"redacted": False}


def ledger_events_of(address_hashes: Sequence[str]) -> sa.ColumnElement[bool]:
    """The ledger's events of these addresses (a WHERE clause for a page of events)."""
    return t.ledger_events.c.address_hash.in_(list(address_hashes))
