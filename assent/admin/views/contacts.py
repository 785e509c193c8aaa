"""The contacts index: search, filter, keyset pages, selection for the bulk panel. The query
is the contacts service's (the same as `GET /api/v1/contacts`); the count of "all N
matching" is that query capped, fetched after the page so it never slows the page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from assent.admin import words
from assent.admin.security import SignedIn, viewer
from assent.admin.web import render
from assent.domain.model import Status
from assent.services import catalog, contact_search, contacts
from assent.services.contact_search import ContactFilter
from assent.services.errors import Problem
from assent.services.state import load_account
from assent.storage.db import Database

router = APIRouter()

PAGE = 50
#: "select all N matching" counts at most this far and then says "N+"
COUNT_CAP = 10_000


@dataclass(frozen=True)
class Search:
    """The search as the index's query string spells it (empty strings for "any")."""

    q: str = ""
    business_unit_id: str = ""
    subscription_type_id: str = ""
    status: str = ""

    @classmethod
    def of(cls, params: Any, prefix: str = "") -> Search:
        def get(name: str) -> str:
            value = params.get(prefix + name)
            return value.strip() if isinstance(value, str) else ""

        return cls(get("q"), get("business_unit_id"), get("subscription_type_id"), get("status"))

    def filter(self) -> ContactFilter:
        return ContactFilter(
            q=self.q or None,
            business_unit_id=int(self.business_unit_id) if self.business_unit_id.isdecimal() else None,
            subscription_type_id=int(self.subscription_type_id) if self.subscription_type_id.isdecimal() else None,
            status=Status(self.status) if self.status in Status.__members__ else None,
        )

    def params(self, prefix: str = "") -> dict[str, str]:
        values = {"q": self.q, "business_unit_id": self.business_unit_id}
        values |= {"subscription_type_id": self.subscription_type_id, "status": self.status}
        return {prefix + k: v for k, v in values.items() if v}

    @property
    def empty(self) -> bool:
        return not self.params()


def type_options(conn: Any) -> list[dict[str, Any]]:
    units = {u["id"]: u["name"] for u in catalog.list_business_units(conn)}
    return [
        {**ty, "label": f"{ty['name']} · {words.CHANNEL[ty['channel']]} · {units.get(ty['business_unit_id'], '')}"}
        for ty in catalog.list_subscription_types(conn)
    ]


@router.get("/contacts")
def index(request: Request, after: int | None = None, me: SignedIn = Depends(viewer)) -> Response:
    search = Search.of(request.query_params)
    db: Database = request.app.state.db
    error = ""
    page: dict[str, Any] = {"results": [], "next": None}
    with db.read() as conn:
        units = catalog.list_business_units(conn)
        types = type_options(conn)
        try:
            page = contacts.search_contacts(conn, load_account(conn), search.filter(), after, PAGE)
        except Problem as problem:
            error = problem.errors[0].reason if problem.errors else problem.detail
    return render(
        request,
        "contacts/index.html",
        me,
        section="contacts",
        title="Contacts",
        search=search,
        units=units,
        types=types,
        page={**page, "results": [_row(c) for c in page["results"]]},
        after=after,
        error=error,
        page_size=PAGE,
    )


def _row(contact: dict[str, Any]) -> dict[str, Any]:
    """R26 properties summarized for the list: opted-out email types, unsubscribed from all."""
    props = contact["subscription_properties"]
    opted_out = sum(1 for name, on in props.items() if on and name.startswith("Opted out of email: "))
    return {**contact, "opted_out": opted_out, "unsubscribed_all": bool(props.get("Unsubscribed from all email"))}


@router.get("/contacts/count")
def count(request: Request, me: SignedIn = Depends(viewer)) -> Response:
    """How many contacts match, counted up to COUNT_CAP (an htmx fragment)."""
    search = Search.of(request.query_params)
    db: Database = request.app.state.db
    with db.read() as conn:
        try:
            ids = contact_search.page_query(conn, load_account(conn), search.filter(), None, COUNT_CAP).subquery()
            found = int(conn.execute(sa.select(sa.func.count()).select_from(ids)).scalar_one())
        except Problem:
            found = 0
    text = f"{COUNT_CAP:,}+" if found > COUNT_CAP else f"{found:,}"
    return HTMLResponse(text)
