"""Erasing a person (R22): by one address, or by a contact and every address it holds. One
write transaction; `services.erasure` does the work and keeps the suppression."""

from __future__ import annotations

from assent.domain.model import Channel
from assent.services import erasure
from assent.services.erasure import Erased
from assent.services.ledger import RequestContext
from assent.services.state import load_account
from assent.storage.db import Database


def erase(
    db: Database,
    *,
    channel: Channel | None = None,
    raw_address: str | None = None,
    contact_id: int | None = None,
    actor_id: str | None,
    context: RequestContext,
) -> Erased:
    """Erase the address (`channel` + `raw_address`) or the contact (`contact_id`)."""
    with db.write() as conn:
        account = load_account(conn)
        if contact_id is not None:
            return erasure.erase_contact(db, conn, account, contact_id, actor_id=actor_id, context=context)
        assert channel is not None
        assert raw_address is not None
        address = account.normalize(channel, raw_address)
        return erasure.erase(db, conn, account, [address], actor_id=actor_id, context=context)
