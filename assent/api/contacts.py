"""`/api/v1/contacts`: CRM-style records, their addresses' subscriptions and history (R2, R26)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from assent.actions import contacts as actions
from assent.api import auth
from assent.api.common import db_of, parse_cursor
from assent.api.schemas import EventPage, Page, PathId, QueryId, Strict, SubscriberOut
from assent.domain.model import Status
from assent.services import contacts
from assent.services import events as ledger_reads
from assent.services.apikeys import Principal
from assent.services.contact_search import ContactFilter
from assent.services.state import load_account, require_business_unit
from assent.services.subscribers import subscriber_view

router = APIRouter(prefix="/contacts", tags=["contacts"])

Name = Annotated[str, Field(max_length=200)]
PropertyValue = Annotated[str, Field(max_length=4000)] | int | float | bool | None


Properties = Annotated[dict[Annotated[str, Field(max_length=100)], PropertyValue], Field(max_length=100)]


class ContactFields(Strict):
    email: Annotated[str, Field(max_length=320)] | None = Field(None, examples=["alice@example.com"])
    phone: Annotated[str, Field(max_length=40)] | None = Field(
        None, description="Any format phonenumbers reads; stored as E.164.", examples=["+46701234567"]
    )
    first_name: Name | None = None
    last_name: Name | None = None
    company: Name | None = None


class ContactIn(ContactFields):
    properties: Properties = Field(default_factory=dict, description="Your own fields (strings, numbers, booleans).")


class ContactPatch(ContactFields):
    properties: Properties | None = Field(None, description="Merged into the stored ones; null removes a key.")


class ContactOut(BaseModel):
    id: int
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    properties: dict[str, Any]
    subscription_properties: dict[str, bool] = Field(
        description='R26, as HubSpot shows them: "Opted out of email: <type>", "Unsubscribed from all email", '
        "and the same for SMS and WhatsApp when the contact has a phone."
    )
    created_at: dt.datetime
    updated_at: dt.datetime


class ContactPage(Page):
    results: list[ContactOut]


class ContactSubscriptionsOut(BaseModel):
    contact_id: int
    subscribers: list[SubscriberOut] = Field(
        description="One per address: the email on EMAIL, the phone on SMS and on WHATSAPP."
    )


@router.post("", response_model=ContactOut, status_code=201, summary="Create a contact")
def create_contact(request: Request, body: ContactIn, _: Principal = Depends(auth.write)) -> dict[str, Any]:
    return actions.create_contact(db_of(request), body.model_dump())


@router.get(
    "",
    response_model=ContactPage,
    summary="Search contacts (keyset pages, no total)",
    description="`q` matches the start of a first or last name, company, email address, email domain "
    "(`@example.com`) or phone number, case-insensitively; several words must all match. "
    "`subscription_type_id`, `business_unit_id` and `status` select contacts whose address has that "
    "status for that type (or for any type of that business unit); `NOT_SPECIFIED` means nothing opted. "
    "Pass `next` back as `cursor` for the following page.",
)
def search_contacts(
    request: Request,
    q: Annotated[str | None, Query(max_length=200)] = None,
    business_unit_id: QueryId | None = None,
    subscription_type_id: QueryId | None = None,
    status: Status | None = None,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    after = parse_cursor(cursor)
    search = ContactFilter(q, business_unit_id, subscription_type_id, status)
    with db_of(request).read() as conn:
        return contacts.search_contacts(conn, load_account(conn), search, after, limit)


@router.get("/{contact_id}", response_model=ContactOut)
def get_contact(request: Request, contact_id: PathId, _: Principal = Depends(auth.read)) -> dict[str, Any]:
    with db_of(request).read() as conn:
        return contacts.get_contact(conn, contact_id)


@router.patch("/{contact_id}", response_model=ContactOut, summary="Update given fields; null clears one")
def patch_contact(
    request: Request, contact_id: PathId, body: ContactPatch, _: Principal = Depends(auth.write)
) -> dict[str, Any]:
    return actions.update_contact(db_of(request), contact_id, body.model_dump(exclude_unset=True))


@router.delete(
    "/{contact_id}",
    status_code=204,
    summary="Delete a contact (R2: its addresses keep their statuses, opt-outs and history)",
)
def delete_contact(request: Request, contact_id: PathId, _: Principal = Depends(auth.write)) -> Response:
    actions.delete_contact(db_of(request), contact_id)
    return Response(status_code=204)


@router.get("/{contact_id}/subscriptions", response_model=ContactSubscriptionsOut)
def contact_subscriptions(
    request: Request,
    contact_id: PathId,
    business_unit_id: QueryId | None = None,
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    with db_of(request).read() as conn:
        account = load_account(conn)
        if business_unit_id is not None:
            require_business_unit(conn, business_unit_id)
        row = contacts.contact_row(conn, contact_id)
        views = [subscriber_view(conn, account, address) for address in contacts.contact_addresses(row)]
    if business_unit_id is not None:
        for view in views:
            view["statuses"] = [s for s in view["statuses"] if s["business_unit_id"] == business_unit_id]
            view["wide_opt_outs"] = [w for w in view["wide_opt_outs"] if w["business_unit_id"] == business_unit_id]
    return {"contact_id": contact_id, "subscribers": views}


@router.get("/{contact_id}/history", response_model=EventPage, summary="Ledger events of the contact's addresses")
def contact_history(
    request: Request,
    contact_id: PathId,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    with db_of(request).read() as conn:
        account = load_account(conn)
        row = contacts.contact_row(conn, contact_id)
        hashes = [account.address_hash(a.channel, a.key) for a in contacts.contact_addresses(row)]
        return ledger_reads.history_page(conn, hashes, cursor, limit)
