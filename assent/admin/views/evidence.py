"""A contact's History tab, the evidence side (issue 17): each event's signed consent
receipt as a download, and the state of the contact's addresses right after an event,
rebuilt from the ledger (services/as_of.py)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from assent.admin.security import SignedIn, viewer
from assent.admin.web import render
from assent.domain.addresses import Address
from assent.services import as_of, catalog, checkpoints, contacts, receipts
from assent.services.errors import NotFound
from assent.services.state import Account, load_account
from assent.storage.db import Database

router = APIRouter()


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _contact_event(conn: Connection, contact_id: int, event_id: int) -> tuple[Account, list[Address], Any]:
    """The contact's addresses and the event, which must be one of theirs (else a 404)."""
    account = load_account(conn)
    addresses = contacts.contact_addresses(contacts.contact_row(conn, contact_id))
    hashes = {account.address_hash(a.channel, a.key) for a in addresses}
    event = receipts.event_row(conn, event_id)
    if event is None or event.address_hash not in hashes:
        raise NotFound("Event", event_id)
    return account, addresses, event


@router.get("/contacts/{contact_id}/events/{event_id}/receipt")
def receipt(request: Request, contact_id: int, event_id: int, me: SignedIn = Depends(viewer)) -> Response:
    with _db(request).read() as conn:
        _contact_event(conn, contact_id, event_id)
        key = checkpoints.private_key(conn, request.app.state.settings.ledger_signing_key)
        document = receipts.receipt(conn, event_id, key)
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="consent-receipt-{event_id}.json"'},
    )


@router.get("/contacts/{contact_id}/as-of")
def state_at(request: Request, contact_id: int, event: int, me: SignedIn = Depends(viewer)) -> Response:
    with _db(request).read() as conn:
        account, addresses, row = _contact_event(conn, contact_id, event)
        contact = contacts.get_contact(conn, contact_id)
        channels = [
            as_of.subscriber_shape(conn, address, as_of.replay(conn, account, address, until_id=event))
            for address in addresses
        ]
        units: dict[int, str] = {u["id"]: u["name"] for u in catalog.list_business_units(conn)}
    parts = (contact["first_name"], contact["last_name"])
    name = " ".join(p for p in parts if p) or contact["email"] or contact["phone"]
    return render(
        request,
        "contacts/as_of.html",
        me,
        section="contacts",
        title=f"{name or f'Contact {contact_id}'} at event #{event}",
        contact=contact,
        name=name,
        event=row,
        channels=channels,
        units=units,
    )
