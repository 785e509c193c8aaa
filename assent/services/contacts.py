"""Contacts: optional CRM-style records. State never belongs to them, only to their
addresses (R2): deleting a contact leaves every status, opt-out and event in place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.model import Channel
from assent.services.errors import NotFound
from assent.services.state import Account
from assent.storage import tables as t


def create_contact(conn: Connection, account: Account, values: dict[str, Any]) -> dict[str, Any]:
    row = dict(values)
    email = row.pop("email", None)
    phone = row.pop("phone", None)
    if email:
        address = account.normalize(Channel.EMAIL, email, field="email")
        row["email"], row["email_key"] = address.display, address.key
    if phone:
        row["phone"] = account.normalize(Channel.SMS, phone, field="phone").key
    now = t.now()
    c = t.contacts
    contact_id = conn.execute(
        c.insert().values(properties={}, **row, created_at=now, updated_at=now).returning(c.c.id)
    ).scalar_one()
    return get_contact(conn, contact_id)


def get_contact(conn: Connection, contact_id: int) -> dict[str, Any]:
    found = conn.execute(sa.select(t.contacts).where(t.contacts.c.id == contact_id)).first()
    if found is None:
        raise NotFound("Contact", contact_id)
    return dict(found._mapping)


def seed_demo_contacts(conn: Connection, emails: Sequence[str]) -> None:
    from assent.services.state import load_account

    account = load_account(conn)
    for email in emails:
        first = email.split("@")[0].capitalize()
        create_contact(conn, account, {"email": email, "first_name": first, "last_name": "Example"})
