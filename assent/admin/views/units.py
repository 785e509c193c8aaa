"""Business units (brands) and their branding. Changes are an admin's; validated by the REST
API's own request models."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from assent.admin.security import SignedIn, admin, viewer
from assent.admin.web import form_values, redirect, render, validation_words
from assent.api.catalog import BusinessUnitIn, BusinessUnitPatch
from assent.services import catalog
from assent.services.catalog import LANGUAGES
from assent.storage.db import Database

router = APIRouter()

FIELDS = (
    "name",
    "company_name",
    "postal_address",
    "logo_url",
    "primary_color",
    "accent_color",
    "default_language",
    "sms_help_text",
    "notice_text",
    "notice_version",
)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@router.get("/business-units")
def index(request: Request, me: SignedIn = Depends(viewer)) -> Response:
    with _db(request).read() as conn:
        units = catalog.list_business_units(conn)
    return render(request, "units/index.html", me, section="units", title="Business units", units=units)


@router.get("/business-units/new")
def new(request: Request, me: SignedIn = Depends(admin)) -> Response:
    return _form(request, me, {"default_language": "en"}, {})


@router.get("/business-units/{unit_id}")
def edit(request: Request, unit_id: int, me: SignedIn = Depends(admin)) -> Response:
    with _db(request).read() as conn:
        unit = catalog.get_business_unit(conn, unit_id)
    return _form(request, me, unit, {})


def _form(request: Request, me: SignedIn, unit: dict[str, Any], errors: dict[str, str], status: int = 200) -> Response:
    return render(
        request,
        "units/form.html",
        me,
        status_code=status,
        section="units",
        title=f"Edit {unit['name']}" if unit.get("id") is not None else "New business unit",
        unit=unit,
        errors=errors,
        languages=LANGUAGES,
    )


def _values(form: Any) -> dict[str, Any]:
    values = form_values(form, FIELDS)
    for color in ("primary_color", "accent_color"):
        # a colour input always sends a value: "use no colour" is its own checkbox
        if form.get(f"no_{color}"):
            values[color] = None
    doi = form.get("double_opt_in")
    values["double_opt_in"] = None if doi in (None, "") else doi == "true"
    values["consent_receipts"] = form.get("consent_receipts") == "1"
    return values


@router.post("/business-units")
async def create(request: Request, me: SignedIn = Depends(admin)) -> Response:
    values = _values(await request.form())
    try:
        body = BusinessUnitIn.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as error:
        return _form(request, me, values, validation_words(error), status=422)
    with _db(request).write() as conn:
        created = catalog.create_business_unit(conn, body.model_dump())
    return redirect(request, "/business-units", f"Created the business unit “{created['name']}”.")


@router.post("/business-units/{unit_id}")
async def update(request: Request, unit_id: int, me: SignedIn = Depends(admin)) -> Response:
    values = _values(await request.form())
    with _db(request).read() as conn:
        current = catalog.get_business_unit(conn, unit_id)
    try:
        body = BusinessUnitPatch.model_validate(values)
    except ValidationError as error:
        return _form(request, me, {**current, **values}, validation_words(error), status=422)
    with _db(request).write() as conn:
        saved = catalog.update_business_unit(conn, unit_id, body.model_dump(exclude_unset=True))
    return redirect(request, "/business-units", f"Saved “{saved['name']}”.")
