"""Business units' public form keys: created or rotated, audited (never the key itself)."""

from __future__ import annotations

from assent.domain.audit import AuditActor, AuditTag
from assent.services import audit, form_keys
from assent.services.ledger import RequestContext
from assent.services.state import require_business_unit
from assent.storage.db import Database


def create_form_key(db: Database, business_unit_id: int, by: AuditActor, context: RequestContext | None = None) -> str:
    """Create the unit's form key, or replace its old one at once. Returns the new key."""
    with db.write() as conn:
        require_business_unit(conn, business_unit_id)
        key, replaced = form_keys.replace(conn, business_unit_id)
        tag = AuditTag.FORM_KEY_ROTATED if replaced else AuditTag.FORM_KEY_CREATED
        audit.record(conn, tag, by, context, subject_id=business_unit_id, after={"business_unit_id": business_unit_id})
    return key
