"""Contacts: create, update, delete. A contact holds no state (R2); these change the record.

Not audited: a contact is a person's data, which erasure must be able to remove everywhere;
the record's changes are the CRM's business, the state's are the ledger's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from assent.services import contacts
from assent.services.state import load_account
from assent.storage.db import Database


def create_contact(db: Database, values: dict[str, Any]) -> dict[str, Any]:
    """A new contact; a 409 when another contact already has its email address."""
    with _unique(), db.write() as conn:
        return contacts.create_contact(conn, load_account(conn), values)


def update_contact(db: Database, contact_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    with _unique(), db.write() as conn:
        return contacts.update_contact(conn, load_account(conn), contact_id, changes)


def delete_contact(db: Database, contact_id: int) -> None:
    """R2: the record goes; its addresses' statuses, opt-outs and history stay."""
    with db.write() as conn:
        contacts.delete_contact(conn, contact_id)


@contextmanager
def _unique() -> Iterator[None]:
    """Two requests racing to give two contacts one address: the loser's write hits the
    unique index after the service's own check passed; it gets the same 409."""
    try:
        yield
    except sa.exc.IntegrityError as error:
        if "email_key" not in str(error.orig or error):
            raise
        raise contacts.address_taken(None) from None
