"""Writing a signed checkpoint of the ledger's chain (issue 17)."""

from __future__ import annotations

import json
import logging
from typing import Any

from assent.config import Settings
from assent.jobs.worker import Periodic
from assent.services import chain, checkpoints
from assent.storage import tables as t
from assent.storage.db import Database


def write_checkpoint(db: Database, settings: Settings, *, only_if_new: bool = False) -> dict[str, Any] | None:
    """Sign the chain's head (the newest event's id and hash) and store the checkpoint.

    `only_if_new`: write nothing when the newest checkpoint already covers the newest event
    (the worker's hourly run on a quiet ledger). Returns the checkpoint as signed, or None.
    """
    with db.write() as conn:
        key = checkpoints.private_key(conn, settings.ledger_signing_key)
        last_id, last_hash = chain.head(conn)
        if only_if_new:
            newest = checkpoints.newest(conn)
            if newest is not None and (newest.last_event_id, newest.last_hash) == (last_id, last_hash):
                return None
        checkpoint = checkpoints.make(last_id, last_hash, t.now(), key)
        checkpoints.store(conn, checkpoint)
    return checkpoint


log = logging.getLogger("assent.ledger")


def periodic_checkpoints(db: Database, settings: Settings) -> list[Periodic]:
    """The worker's checkpoint, every ASSENT_LEDGER_CHECKPOINT_INTERVAL seconds (0: none)."""
    if settings.ledger_checkpoint_interval <= 0:
        return []

    def run() -> None:
        written = write_checkpoint(db, settings, only_if_new=True)
        if written is not None:
            log.info("ledger checkpoint: %s", json.dumps(written, separators=(",", ":")))

    return [Periodic("ledger checkpoint", settings.ledger_checkpoint_interval, run)]
