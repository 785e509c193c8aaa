"""Request counters in the database (public pages' abuse limits, the resubscribe email's week).

A key's window opens at its first hit and lasts the limit's period ("at most 1 a week"
means 7 days after the last allowed one, not "this calendar week").

In the database, not in process memory: several `assent serve` processes on several
machines share one count (SPEC §4). One upsert per hit, the same SQL on SQLite and
PostgreSQL; the row lock it takes serializes two hits on one key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from assent.services.state import Account, load_account
from assent.storage import tables as t
from assent.storage.db import Database


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    hits: int
    per: dt.timedelta

    @property
    def seconds(self) -> int:
        return int(self.per.total_seconds())


def key_for(account: Account, limit: Limit, value: str) -> str:
    """A keyed hash, so the table never holds an address or an IP address."""
    digest = hashlib.blake2b(value.encode(), key=account.hash_key, digest_size=16).hexdigest()
    return f"{limit.name}:{digest}"


@dataclass(frozen=True, slots=True)
class Exceeded:
    limit: Limit
    #: seconds until the key's window closes (for a Retry-After header)
    retry_after: int


def hit(conn: Connection, key: str, limit: Limit, now: dt.datetime | None = None) -> int | None:
    """Count one request against `key`: None if allowed, else the seconds until it will be
    (call in a write transaction: the count must commit whatever the caller does next)."""
    now = now or t.now()
    r = t.rate_limits
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(r)
    open_window = r.c.expires_at > now
    statement = (
        insert.values(key=key, bucket=int(now.timestamp()), hits=1, expires_at=now + limit.per)
        .on_conflict_do_update(
            index_elements=["key"],
            set_={
                "hits": sa.case((open_window, r.c.hits + 1), else_=1),
                "bucket": sa.case((open_window, r.c.bucket), else_=insert.excluded.bucket),
                "expires_at": sa.case((open_window, r.c.expires_at), else_=insert.excluded.expires_at),
            },
        )
        .returning(r.c.hits, r.c.expires_at)
    )
    hits, expires_at = conn.execute(statement).one()
    if secrets.randbelow(50) == 0:
        # Now and then, forget windows that ended; no job needed to keep the table small.
        conn.execute(sa.delete(r).where(r.c.expires_at < now))
    if hits <= limit.hits:
        return None
    return max(1, int((expires_at - now).total_seconds()) + 1)


def first_exceeded(db: Database, checks: list[tuple[Limit, str]]) -> Exceeded | None:
    """Count one request against each (limit, value) in its own committed transaction, so
    that a request refused later for another reason still counts; the first limit that is
    over, or None."""
    exceeded = None
    with db.write() as conn:
        account = load_account(conn)
        for limit, value in checks:
            wait = hit(conn, key_for(account, limit, value), limit)
            if wait is not None and exceeded is None:
                exceeded = Exceeded(limit, wait)
    return exceeded


def next_allowed_at(
    conn: Connection, account: Account, limit: Limit, value: str, now: dt.datetime | None = None
) -> dt.datetime | None:
    """When the next request for (limit, value) will be allowed: None when it would be now.
    Reads only: asking does not count as a request."""
    now = now or t.now()
    r = t.rate_limits
    found = conn.execute(sa.select(r.c.hits, r.c.expires_at).where(r.c.key == key_for(account, limit, value))).first()
    if found is None or found.hits < limit.hits:
        return None
    expires_at: dt.datetime = found.expires_at
    return expires_at if expires_at > now else None


def release(db: Database, limit: Limit, value: str) -> None:
    """Forget the count for (limit, value): the counted action did not happen after all."""
    with db.write() as conn:
        key = key_for(load_account(conn), limit, value)
        conn.execute(sa.delete(t.rate_limits).where(t.rate_limits.c.key == key))
