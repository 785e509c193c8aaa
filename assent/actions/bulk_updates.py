"""Starting a bulk update (R20): validated, queued and its selection materialized in one
write transaction (`jobs.bulk.create`); the worker then runs it in chunks."""

from __future__ import annotations

from assent.jobs import bulk
from assent.jobs.bulk import BulkUpdate
from assent.services.ledger import RequestContext
from assent.storage.db import Database


def start_bulk_update(db: Database, update: BulkUpdate, *, actor_id: str | None, context: RequestContext) -> str:
    """The new job's id, or a 422 with nothing queued."""
    return bulk.create(db, update, actor_id=actor_id, context=context)
