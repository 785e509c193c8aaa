"""API keys: created (shown once) and revoked, each audited."""

from __future__ import annotations

from collections.abc import Iterable

from assent.domain.audit import AuditActor, AuditTag
from assent.services import apikeys, audit
from assent.services.ledger import RequestContext
from assent.storage.db import Database


def create_api_key(
    db: Database, name: str, scopes: Iterable[str], by: AuditActor, context: RequestContext | None = None
) -> tuple[str, str]:
    """(key id, the whole key). Only the key's hash is stored, and never audited."""
    with db.write() as conn:
        key_id, key = apikeys.create_api_key(conn, name, scopes)
        audit.record(
            conn,
            AuditTag.API_KEY_CREATED,
            by,
            context,
            subject_id=key_id,
            after={"name": name.strip(), "scopes": sorted(set(scopes))},
        )
    return key_id, key


def revoke_api_key(db: Database, key_id: str, by: AuditActor, context: RequestContext | None = None) -> bool:
    """True when the key was active and is now revoked; False when it already was (no row)."""
    with db.write() as conn:
        done = apikeys.revoke_api_key(conn, key_id)
        if done:
            audit.record(conn, AuditTag.API_KEY_REVOKED, by, context, subject_id=key_id, after={"revoked": True})
    return done


def replace_named_key(db: Database, name: str, scopes: Iterable[str], by: AuditActor) -> str:
    """One active key of this name: earlier ones are revoked, a new one is made (the demo's
    key, printed by `assent serve --demo`)."""
    with db.read() as conn:
        old = [str(k["id"]) for k in apikeys.list_api_keys(conn) if k["name"] == name and k["revoked_at"] is None]
    for key_id in old:
        revoke_api_key(db, key_id, by)
    return create_api_key(db, name, scopes, by)[1]
