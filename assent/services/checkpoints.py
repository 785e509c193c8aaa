"""Signed checkpoints of the ledger's chain, and the key that signs them and receipts.

A checkpoint is `{last_event_id, last_hash, at}` signed with Ed25519 (the scheme in
`assent.verifier_standalone`): published outside Assent, it pins every event up to
`last_event_id` — a later rewrite of any of them, or a cut of the tail, no longer matches.

The private key comes from ASSENT_LEDGER_SIGNING_KEY (a PKCS#8 PEM, or the raw 32-byte key in
base64 or hex); unset, from `ledger_signing_keys`, where migration 0010 generated one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Connection

from assent.storage import tables as t
from assent.verifier_standalone import Checkpoint, canonical_time, sign

ALGORITHM = "Ed25519"


class SigningKeyError(ValueError):
    """ASSENT_LEDGER_SIGNING_KEY is not an Ed25519 private key."""


def parse_private_key(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except ValueError as error:
            raise SigningKeyError(f"ASSENT_LEDGER_SIGNING_KEY: not a readable PEM private key ({error})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError("ASSENT_LEDGER_SIGNING_KEY: the PEM key is not an Ed25519 key")
        return key
    raw: bytes | None = None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) != 32:
        raise SigningKeyError(
            "ASSENT_LEDGER_SIGNING_KEY: give an Ed25519 private key as PKCS#8 PEM, or its 32 bytes in base64 or hex"
        )
    return Ed25519PrivateKey.from_private_bytes(raw)


def generated_key_pem() -> str:
    """A new private key as PKCS#8 PEM (migration 0010 keeps one in the database)."""
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )


def private_key(conn: Connection, configured: str | None) -> Ed25519PrivateKey:
    if configured:
        return parse_private_key(configured)
    k = t.ledger_signing_keys
    pem = conn.execute(sa.select(k.c.private_key_pem).where(k.c.id == 1)).scalar_one()
    return parse_private_key(pem)


def public_key_pem(conn: Connection, configured: str | None) -> str:
    public = private_key(conn, configured).public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_key_document(conn: Connection, configured: str | None) -> dict[str, str]:
    return {"algorithm": ALGORITHM, "public_key_pem": public_key_pem(conn, configured)}


def make(last_event_id: int, last_hash: str, at: dt.datetime, key: Ed25519PrivateKey) -> dict[str, Any]:
    return sign({"last_event_id": last_event_id, "last_hash": last_hash, "at": canonical_time(at)}, key)


def store(conn: Connection, checkpoint: dict[str, Any]) -> None:
    conn.execute(sa.insert(t.ledger_checkpoints).values(**checkpoint))


def newest(conn: Connection) -> Checkpoint | None:
    c = t.ledger_checkpoints
    row = conn.execute(sa.select(c).order_by(c.c.id.desc()).limit(1)).first()
    return None if row is None else Checkpoint(row.last_event_id, row.last_hash, row.at, row.signature)


def covering(conn: Connection, event_id: int) -> Checkpoint | None:
    """The first checkpoint that covers the event (its last_event_id is at or after it)."""
    c = t.ledger_checkpoints
    row = conn.execute(
        sa.select(c).where(c.c.last_event_id >= event_id).order_by(c.c.last_event_id, c.c.id).limit(1)
    ).first()
    return None if row is None else Checkpoint(row.last_event_id, row.last_hash, row.at, row.signature)


def page(conn: Connection, before: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Checkpoints newest first, each exactly as signed; and the cursor of the next page."""
    c = t.ledger_checkpoints
    query = sa.select(c).order_by(c.c.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(c.c.id < before)
    rows = conn.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [Checkpoint(r.last_event_id, r.last_hash, r.at, r.signature).as_dict() for r in rows]
    return items, (rows[-1].id if more else None)
