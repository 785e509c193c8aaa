"""Account-wide actions: the settings, and the generated development signing key."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from assent.domain.audit import AuditActor, AuditTag
from assent.services import audit
from assent.services import settings as settings_service
from assent.services.ledger import RequestContext
from assent.storage import tables as t
from assent.storage.db import Database


def update_settings(
    db: Database, changes: dict[str, Any], by: AuditActor, context: RequestContext | None = None
) -> dict[str, Any]:
    """Change the given settings. One audit row when anything changed, tagged
    `account:data_privacy_mode:set` when data privacy mode is among the changes (it changes
    what may be sent), else `account:settings:updated`; before/after hold the changed fields."""
    with db.write() as conn:
        current = settings_service.get_settings(conn)
        saved = settings_service.update_settings(conn, changes)
        before, after = audit.changed(current, saved)
        if after:
            tag = AuditTag.DATA_PRIVACY_MODE_SET if "data_privacy_mode" in after else AuditTag.SETTINGS_UPDATED
            audit.record(conn, tag, by, context, before=before, after=after)
    return saved


def development_secret(db: Database, legacy_file: Path | None = None) -> str:
    """The signing key used when ASSENT_SECRET_KEYS is unset, kept in the database so every
    host on it signs and verifies the same links. Made on first use; a key file an earlier
    version wrote beside the SQLite file (or in the working directory) is adopted, so links
    already sent keep working. Two hosts starting at once agree: only the first write of the
    empty column counts."""
    s = t.account_settings
    with db.read() as conn:
        stored = conn.execute(sa.select(s.c.development_secret_key).where(s.c.id == 1)).scalar()
    if stored:
        return str(stored)
    adopted = legacy_file.read_text().strip() if legacy_file is not None and legacy_file.is_file() else ""
    with db.write() as conn:
        conn.execute(
            sa.update(s)
            .where(s.c.id == 1, s.c.development_secret_key.is_(None))
            .values(development_secret_key=adopted or secrets.token_urlsafe(48))
        )
        return str(conn.execute(sa.select(s.c.development_secret_key).where(s.c.id == 1)).scalar_one())
