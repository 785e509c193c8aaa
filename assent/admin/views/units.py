"""Business units (brands) and their branding. Changes are an admin's; validated by the REST
API's own request models."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from assent.actions import catalog as actions
from assent.admin.security import SignedIn, admin, request_context, viewer
from assent.admin.web import form_values, redirect, render, validation_words
from assent.api.catalog import BusinessUnitIn, BusinessUnitPatch
from assent.services import catalog
from assent.services.catalog import LANGUAGES
from assent.services.errors import Problem
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
    values.update(_sms_values(form))
    values["consent_receipts"] = form.get("consent_receipts") == "1"
    values["notice_translations"] = _notice_translations(form)
    return values


def _notice_translations(form: Any) -> dict[str, dict[str, str]]:
    """Rows ntr_lang_N / ntr_text_N, like a type's translations; a row without text is dropped."""
    out: dict[str, dict[str, str]] = {}
    for key in form:
        if not key.startswith("ntr_lang_"):
            continue
        lang = str(form.get(key, "")).strip()
        text = str(form.get(f"ntr_text_{key.removeprefix('ntr_lang_')}", "")).strip()
        if lang and text:
            out[lang] = {"text": text}
    return out


def _sms_values(form: Any) -> dict[str, Any]:
    """The SMS section (units/_sms.html): keywords as comma lists, replies, quiet hours."""
    keywords = {
        kind: [word.strip() for word in str(form.get(f"kw_{kind}", "")).split(",") if word.strip()]
        for kind in ("opt_out", "opt_in", "help")
    }
    replies = {kind: str(form.get(f"reply_{kind}", "")).strip() or None for kind in ("opt_out", "opt_in", "help")}
    quiet: dict[str, Any] = {}
    for channel in ("SMS", "WHATSAPP"):
        on = form.get(f"quiet_{channel}") == "on"
        days = [str(day) for day in form.getlist(f"quiet_{channel}_days")]
        window = {"start": form.get(f"quiet_{channel}_start"), "end": form.get(f"quiet_{channel}_end"), "days": days}
        quiet[channel] = window if on else None
    return {"sms_keywords": keywords, "sms_replies": replies, "quiet_hours": quiet}


@router.post("/business-units")
async def create(request: Request, me: SignedIn = Depends(admin)) -> Response:
    values = _values(await request.form())
    try:
        body = BusinessUnitIn.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as error:
        return _form(request, me, values, validation_words(error), status=422)
    try:
        created = actions.create_business_unit(_db(request), body.model_dump(), me.by, request_context(request))
    except Problem as problem:
        return _form(request, me, values, {e.field: e.reason for e in problem.errors}, status=422)
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
    changes = body.model_dump(exclude_unset=True)
    try:
        saved = actions.update_business_unit(_db(request), unit_id, changes, me.by, request_context(request))
    except Problem as problem:
        return _form(request, me, {**current, **values}, {e.field: e.reason for e in problem.errors}, status=422)
    return redirect(request, "/business-units", f"Saved “{saved['name']}”.")
