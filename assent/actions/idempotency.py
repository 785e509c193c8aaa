"""The API's `Idempotency-Key` reservations (`api/idempotency.py`): reserve a key before the
request runs, then store its answer (or release the key after a server error). Each is one
write transaction; a concurrent retry sees the reservation and gets a 409."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from assent.storage import tables as t
from assent.storage.db import Database

#: a reservation whose request never finished (a crashed process) may be taken over after this
ABANDONED_AFTER = dt.timedelta(minutes=10)
#: How long a key is remembered. Answers may hold personal data (an address), so they are
#: not kept forever; a day covers every sensible retry (it is Stripe's window too).
KEPT_FOR = dt.timedelta(hours=24)

Stored = tuple[int, str, bytes]


def reserve_key(
    db: Database, principal: str, key: str, digest: str, *, purge: bool = False
) -> tuple[str, Stored | None]:
    """("run", None) when this request may run; ("replay", answer); ("running", None) while
    another attempt runs; ("mismatch", None) when the key came with another request."""
    try:
        return _reserve_once(db, principal, key, digest, purge)
    except sa.exc.IntegrityError:
        # Two requests with one key raced to insert it (PostgreSQL reads no row in both,
        # then one insert loses on the primary key): look again, the winner's row is there.
        return _reserve_once(db, principal, key, digest, False)


def _reserve_once(db: Database, principal: str, key: str, digest: str, purge: bool) -> tuple[str, Stored | None]:
    i = t.idempotency_keys
    now = t.now()
    with db.write() as conn:
        if purge:
            conn.execute(sa.delete(i).where(i.c.created_at < now - KEPT_FOR))
        row = conn.execute(sa.select(i).where(i.c.principal == principal, i.c.key == key)).first()
        if row is not None and now - row.created_at > KEPT_FOR:
            conn.execute(sa.delete(i).where(i.c.principal == principal, i.c.key == key))
            row = None
        if row is None:
            conn.execute(
                i.insert().values(
                    principal=principal,
                    key=key,
                    request_hash=digest,
                    status_code=0,
                    response_body=b"",
                    content_type="",
                    created_at=now,
                )
            )
            return "run", None
        if row.request_hash != digest:
            return "mismatch", None
        if row.status_code:
            return "replay", (row.status_code, row.content_type, row.response_body)
        if now - row.created_at < ABANDONED_AFTER:
            return "running", None
        conn.execute(sa.update(i).where(i.c.principal == principal, i.c.key == key).values(created_at=now))
        return "run", None


def finish_key(db: Database, principal: str, key: str, status: int, content_type: str, body: bytes) -> None:
    """Store the answer for replays; a server error releases the key, so a retry runs again."""
    i = t.idempotency_keys
    where = (i.c.principal == principal, i.c.key == key)
    with db.write() as conn:
        if status >= 500:
            conn.execute(sa.delete(i).where(*where))
        else:
            conn.execute(
                sa.update(i).where(*where).values(status_code=status, content_type=content_type, response_body=body)
            )
