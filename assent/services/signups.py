"""What signups through a form share that is not a state change (that is
`assent.actions.signups.submit_form`): their rate limits, and the public form keys that let
a brand's own website post them."""

from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.services.ratelimit import Limit
from assent.storage import tables as t

PER_CLIENT = Limit("signup-client", 20, dt.timedelta(hours=1))
PER_ADDRESS = Limit("signup-address", 5, dt.timedelta(hours=1))


def form_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def form_key_owner(conn: Connection, key: str) -> int | None:
    """The business unit whose public form key `key` is, or None (unknown or replaced)."""
    fk = t.form_keys
    found = conn.execute(sa.select(fk.c.business_unit_id).where(fk.c.key_hash == form_key_hash(key))).scalar()
    return int(found) if found is not None else None
