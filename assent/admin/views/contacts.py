"""The contacts index: search, filter, keyset pages, selection for the bulk panel. The query
is the contacts service's (the same as `GET /api/v1/contacts`); the count of "all N
matching" is that query capped, fetched after the page so it never slows the page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from assent.actions import contacts as contact_actions
from assent.admin import words
from assent.admin.security import SignedIn, editor, viewer
from assent.admin.web import redirect, render, validation_words
from assent.api.contacts import ContactIn, ContactPatch
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
        unit_names = {u["id"]: u["name"] for u in units}
        types = type_options(conn)
        try:
            page = contacts.search_contacts(conn, load_account(conn), search.filter(), after, PAGE, with_state=True)
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
        page={**page, "results": [_row(c, unit_names) for c in page["results"]]},
        after=after,
        error=error,
        page_size=PAGE,
    )


def _row(contact: dict[str, Any], unit_names: dict[int, str]) -> dict[str, Any]:
    """What the list says of a contact's state: undeliverable (a hard bounce) per channel,
    unsubscribed from all per channel and business unit, and how many email types it
    opted out of (R26) — all read with the page (`with_state`)."""
    props = contact["subscription_properties"]
    opted_out = sum(1 for name, on in props.items() if on and name.startswith("Opted out of email: "))
    state = contact["state"]
    wide: dict[str, list[str]] = {}
    for channel, unit in state["unsubscribed_all"]:
        wide.setdefault(channel, []).append(unit_names.get(unit, str(unit)))
    unsubscribed_all = [
        {"channel": channel, "units": names, "all_units": len(names) == len(unit_names)}
        for channel, names in wide.items()
    ]
    return {
        **contact,
        "opted_out": opted_out,
        "undeliverable": state["undeliverable"],
        "unsubscribed_all": unsubscribed_all,
    }


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


# --- new contact, edit a contact ------------------------------------------------------------
# Validated by the REST API's own request models (ContactIn, ContactPatch) and saved by the
# same actions as `POST`/`PATCH /api/v1/contacts`: the same normalization (R1), the same
# one-contact-per-email rule, the same workflow triggers (CONTACT_CREATED, property changes).

FIELDS = ("email", "phone", "first_name", "last_name", "company")
#: empty property rows a form offers for new properties
BLANK_PROPERTIES = 3


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _shown(value: Any) -> str:
    """A property value as the form shows it (and reads it back unchanged)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass
class ContactForm:
    """The form as sent: the fields, and the property rows in order (name, value)."""

    values: dict[str, str]
    rows: list[tuple[str, str]]

    @classmethod
    def of(cls, form: Any) -> ContactForm:
        values = {name: str(form.get(name) or "").strip() for name in FIELDS}
        keys = [str(k) for k in form.getlist("property_name")]
        found = [str(v) for v in form.getlist("property_value")]
        rows = [(k.strip(), (found[i] if i < len(found) else "").strip()) for i, k in enumerate(keys)]
        return cls(values, [row for row in rows if row != ("", "")])

    @classmethod
    def of_contact(cls, contact: dict[str, Any]) -> ContactForm:
        values = {name: _shown(contact.get(name)) for name in FIELDS}
        return cls(values, [(k, _shown(v)) for k, v in contact["properties"].items()])

    def properties(self, current: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
        """The property rows as the API's `properties`; a value shown unchanged keeps its
        type (a number stays a number)."""
        props: dict[str, Any] = {}
        for name, value in self.rows:
            if not name:
                errors.setdefault("properties", f"The value “{value[:40]}” needs a property name.")
            elif name in props:
                errors.setdefault("properties", f"The property “{name[:40]}” is given twice.")
            elif value:
                props[name] = current[name] if name in current and _shown(current[name]) == value else value
        return props


def _field_words(problem: Problem) -> dict[str, str]:
    out: dict[str, str] = {}
    for error in problem.errors:
        name = "properties" if error.field.startswith("properties") else error.field
        out.setdefault(name, error.reason[:1].upper() + error.reason[1:] + ".")
    return out or {"_": problem.detail}


def _validation(error: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, text in validation_words(error).items():
        out.setdefault("properties" if name.startswith("properties") else name, text)
    return out


def _contact_form(
    request: Request,
    me: SignedIn,
    form: ContactForm,
    errors: dict[str, str],
    contact: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "contacts/form.html",
        me,
        status_code=status,
        section="contacts",
        title="Edit contact" if contact else "New contact",
        contact=contact,
        values=form.values,
        rows=[*form.rows, *[("", "")] * BLANK_PROPERTIES],
        errors=errors,
    )


@router.get("/contacts/new")
def new_contact(request: Request, me: SignedIn = Depends(editor)) -> Response:
    return _contact_form(request, me, ContactForm(dict.fromkeys(FIELDS, ""), []), {})


@router.post("/contacts/new")
async def create_contact(request: Request, me: SignedIn = Depends(editor)) -> Response:
    form = ContactForm.of(await request.form())
    errors: dict[str, str] = {}
    body: dict[str, Any] = {name: value for name, value in form.values.items() if value}
    body["properties"] = form.properties({}, errors)
    if errors:
        return _contact_form(request, me, form, errors, status=422)
    try:
        valid = ContactIn.model_validate(body)
    except ValidationError as error:
        return _contact_form(request, me, form, _validation(error), status=422)
    try:
        created = contact_actions.create_contact(_db(request), valid.model_dump())
    except Problem as problem:
        return _contact_form(request, me, form, _field_words(problem), status=problem.status)
    return redirect(request, f"/contacts/{created['id']}", "Created the contact.")


@router.get("/contacts/{contact_id}/edit")
def edit_contact(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    with _db(request).read() as conn:
        contact = contacts.get_contact(conn, contact_id)
    return _contact_form(request, me, ContactForm.of_contact(contact), {}, contact)


@router.post("/contacts/{contact_id}/edit")
async def update_contact(request: Request, contact_id: int, me: SignedIn = Depends(editor)) -> Response:
    form = ContactForm.of(await request.form())
    with _db(request).read() as conn:
        contact = contacts.get_contact(conn, contact_id)
    errors: dict[str, str] = {}
    current = contact["properties"]
    props = form.properties(current, errors)
    if errors:
        return _contact_form(request, me, form, errors, contact, status=422)
    # PATCH what changed: an emptied field clears it, a removed property goes (null).
    patch: dict[str, Any] = {
        name: value or None for name, value in form.values.items() if value != _shown(contact.get(name))
    }
    changed = {k: v for k, v in props.items() if k not in current or current[k] != v}
    changed |= {k: None for k in current if k not in props}
    if changed:
        patch["properties"] = changed
    try:
        valid = ContactPatch.model_validate(patch)
    except ValidationError as error:
        return _contact_form(request, me, form, _validation(error), contact, status=422)
    if patch:
        try:
            contact_actions.update_contact(_db(request), contact_id, valid.model_dump(exclude_unset=True))
        except Problem as problem:
            return _contact_form(request, me, form, _field_words(problem), contact, status=problem.status)
    return redirect(request, f"/contacts/{contact_id}", "Saved the contact." if patch else "Nothing changed.")
