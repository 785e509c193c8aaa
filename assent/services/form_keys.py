"""Business units' public form keys (`POST /api/v1/form-submissions`), stored as a hash."""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.storage import tables as t


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def owner_of(conn: Connection, key: str) -> int | None:
    """The business unit whose form key this is; None when it is unknown or was replaced."""
    fk = t.form_keys
    owner = conn.execute(sa.select(fk.c.business_unit_id).where(fk.c.key_hash == _hash(key))).scalar()
    return None if owner is None else int(owner)


def replace(conn: Connection, business_unit_id: int) -> tuple[str, bool]:
    """A new key for the unit, replacing its old one at once: (the key, whether one existed)."""
    key = "afk_" + secrets.token_urlsafe(24)
    fk = t.form_keys
    replaced = conn.execute(sa.delete(fk).where(fk.c.business_unit_id == business_unit_id)).rowcount > 0
    conn.execute(fk.insert().values(key_hash=_hash(key), business_unit_id=business_unit_id, created_at=t.now()))
    return key, replaced
