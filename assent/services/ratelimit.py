"""Fixed-window request counters in the database (public pages' abuse limits).

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


def hit(conn: Connection, key: str, limit: Limit, now: dt.datetime | None = None) -> bool:
    """Count one request against `key`; False when it is over the limit (call in a write
    transaction: the count must commit whatever the caller does next)."""
    now = now or t.now()
    bucket = int(now.timestamp()) // limit.seconds
    expires = dt.datetime.fromtimestamp((bucket + 1) * limit.seconds, dt.UTC)
    r = t.rate_limits
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(r)
    statement = (
        insert.values(key=key, bucket=bucket, hits=1, expires_at=expires)
        .on_conflict_do_update(
            index_elements=["key"],
            set_={
                "hits": sa.case((r.c.bucket == insert.excluded.bucket, r.c.hits + 1), else_=1),
                "bucket": insert.excluded.bucket,
                "expires_at": insert.excluded.expires_at,
            },
        )
        .returning(r.c.hits)
    )
    hits = int(conn.execute(statement).scalar_one())
    if secrets.randbelow(50) == 0:
        # Now and then, forget windows that ended; no job needed to keep the table small.
        conn.execute(sa.delete(r).where(r.c.expires_at < now))
    return hits <= limit.hits


def retry_after(limit: Limit, now: dt.datetime | None = None) -> int:
    """Seconds until the current window ends (for a Retry-After header)."""
    now = now or t.now()
    return limit.seconds - int(now.timestamp()) % limit.seconds


def first_exceeded(db: Database, checks: list[tuple[Limit, str]]) -> Limit | None:
    """Count one request against each (limit, value) in its own committed transaction, so
    that a request refused later for another reason still counts; the first limit that is
    over, or None."""
    exceeded = None
    with db.write() as conn:
        account = load_account(conn)
        for limit, value in checks:
            allowed = hit(conn, key_for(account, limit, value), limit)
            if not allowed and exceeded is None:
                exceeded = limit
    return exceeded


def release(db: Database, limit: Limit, value: str) -> None:
    """Forget the count for (limit, value): the counted action did not happen after all."""
    with db.write() as conn:
        key = key_for(load_account(conn), limit, value)
        conn.execute(sa.delete(t.rate_limits).where(t.rate_limits.c.key == key))
