"""Subscription types per business unit and channel: create, edit, translate, reorder,
archive, and a preview as the preference page shows them. Changes are an admin's; the
request models are the REST API's, so both check the same things."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from assent import i18n
from assent.actions import catalog as actions
from assent.admin import words
from assent.admin.security import SignedIn, admin, request_context, viewer
from assent.admin.web import base, form_values, is_htmx, redirect, render, validation_words, with_query
from assent.api.catalog import SubscriptionTypeIn, SubscriptionTypePatch
from assent.domain.model import Channel
from assent.pages.preferences import preview as pages_preview
from assent.services import catalog
from assent.services.branding import load_brand
from assent.services.catalog import LANGUAGES
from assent.services.preferences import blank_preferences
from assent.storage.db import Database

router = APIRouter()

PURPOSES = ("Marketing", "Sales", "Customer service", "Product information", "One-to-one", "Surveys")
_FIELDS = ("name", "description", "purpose")


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _channel(raw: str | None) -> Channel:
    try:
        return Channel(raw or "EMAIL")
    except ValueError:
        return Channel.EMAIL


@router.get("/subscription-types")
def index(
    request: Request,
    business_unit_id: int = 0,
    channel: str | None = None,
    archived: bool = False,
    me: SignedIn = Depends(viewer),
) -> Response:
    chosen = _channel(channel)
    with _db(request).read() as conn:
        units = catalog.list_business_units(conn)
        types = catalog.list_subscription_types(
            conn, business_unit_id=business_unit_id, channel=chosen.value, include_inactive=True
        )
    shown = [ty for ty in types if archived or ty["is_active"]]
    return render(
        request,
        "types/index.html",
        me,
        section="types",
        title="Subscription types",
        units=units,
        business_unit_id=business_unit_id,
        channel=chosen.value,
        channels=[c.value for c in Channel],
        types=shown,
        archived=archived,
        archived_count=sum(1 for ty in types if not ty["is_active"]),
    )


@router.get("/subscription-types/new")
def new(
    request: Request, business_unit_id: int = 0, channel: str | None = None, me: SignedIn = Depends(admin)
) -> Response:
    draft: dict[str, Any] = {
        "business_unit_id": business_unit_id,
        "channel": _channel(channel).value,
        "translations": {},
    }
    return _form(request, me, draft, {})


def _form(request: Request, me: SignedIn, ty: dict[str, Any], errors: dict[str, str], status: int = 200) -> Response:
    with _db(request).read() as conn:
        units = catalog.list_business_units(conn)
    return render(
        request,
        "types/form.html",
        me,
        status_code=status,
        section="types",
        title="Edit subscription type" if ty.get("id") else "New subscription type",
        ty=ty,
        units=units,
        errors=errors,
        purposes=PURPOSES,
        languages=LANGUAGES,
        unit_options=[(u["id"], u["name"]) for u in units],
        channel_options=[(c.value, words.CHANNEL[c.value]) for c in Channel],
    )


def _translations(form: Any) -> dict[str, dict[str, str]]:
    """Rows tr_lang_N / tr_name_N / tr_description_N; a row without a name is dropped."""
    out: dict[str, dict[str, str]] = {}
    for key in form:
        if not key.startswith("tr_lang_"):
            continue
        index = key.removeprefix("tr_lang_")
        lang = str(form.get(key, "")).strip()
        name = str(form.get(f"tr_name_{index}", "")).strip()
        if lang and name:
            out[lang] = {"name": name, "description": str(form.get(f"tr_description_{index}", "")).strip()}
    return out


@router.post("/subscription-types")
async def create(request: Request, me: SignedIn = Depends(admin)) -> Response:
    form = await request.form()
    values = form_values(form, (*_FIELDS, "channel", "business_unit_id"))
    values["description"] = values.get("description") or ""
    values["translations"] = _translations(form)
    try:
        body = SubscriptionTypeIn.model_validate(values)
    except ValidationError as error:
        return _form(request, me, values, validation_words(error), status=422)
    data = body.model_dump()
    data["channel"] = body.channel.value
    created = actions.create_subscription_type(_db(request), data, me.by, request_context(request))
    return redirect(
        request,
        with_query("/subscription-types", business_unit_id=created["business_unit_id"], channel=created["channel"]),
        f"Created “{created['name']}”.",
    )


@router.get("/subscription-types/{type_id}")
def edit(request: Request, type_id: int, me: SignedIn = Depends(admin)) -> Response:
    with _db(request).read() as conn:
        ty = catalog.get_subscription_type(conn, type_id)
    return _form(request, me, ty, {})


@router.post("/subscription-types/{type_id}")
async def update(request: Request, type_id: int, me: SignedIn = Depends(admin)) -> Response:
    form = await request.form()
    values = form_values(form, _FIELDS)
    values["description"] = values.get("description") or ""
    values["translations"] = _translations(form)
    with _db(request).read() as conn:
        current = catalog.get_subscription_type(conn, type_id)
    try:
        body = SubscriptionTypePatch.model_validate(values)
    except ValidationError as error:
        return _form(request, me, {**current, **values}, validation_words(error), status=422)
    changes = body.model_dump(exclude_unset=True)
    saved = actions.update_subscription_type(_db(request), type_id, changes, me.by, request_context(request))
    return redirect(request, _list_of(saved), f"Saved “{saved['name']}”.")


def _list_of(ty: dict[str, Any]) -> str:
    return with_query("/subscription-types", business_unit_id=ty["business_unit_id"], channel=ty["channel"])


@router.post("/subscription-types/{type_id}/move")
async def move(request: Request, type_id: int, me: SignedIn = Depends(admin)) -> Response:
    """Up or down one place among the types of its business unit and channel."""
    direction = str((await request.form()).get("direction", ""))
    ty = actions.move_subscription_type(_db(request), type_id, direction == "up", me.by, request_context(request))
    return redirect(request, _list_of(ty))


@router.get("/subscription-types/{type_id}/archive")
def archive_confirm(request: Request, type_id: int, me: SignedIn = Depends(admin)) -> Response:
    """Asks first (a <dialog> with htmx, a page without JavaScript): the preference page
    stops showing the type, so people can no longer opt out of it there. Only the form's
    POST archives."""
    with _db(request).read() as conn:
        ty = catalog.get_subscription_type(conn, type_id)
        unit = catalog.get_business_unit(conn, ty["business_unit_id"])
    template = "types/_archive_dialog.html" if is_htmx(request) else "types/archive.html"
    return render(request, template, me, section="types", title=f"Archive “{ty['name']}”?", ty=ty, unit=unit)


@router.post("/subscription-types/{type_id}/archive")
async def archive(request: Request, type_id: int, me: SignedIn = Depends(admin)) -> Response:
    """Archive (is_active false) or restore. Statuses and history stay."""
    restore = str((await request.form()).get("restore", "")) == "1"
    ty = actions.update_subscription_type(
        _db(request), type_id, {"is_active": restore}, me.by, request_context(request)
    )
    verb = "Restored" if restore else "Archived"
    return redirect(request, _list_of(ty), f"{verb} “{ty['name']}”.")


@router.get("/subscription-types/{type_id}/preview")
def preview(request: Request, type_id: int, lang: str | None = None, me: SignedIn = Depends(viewer)) -> Response:
    """The unit's real preference page (its partials, its catalog, its stylesheet) as a person
    with no choices yet sees it, in the chosen language."""
    with _db(request).read() as conn:
        ty = catalog.get_subscription_type(conn, type_id)
        brand = load_brand(conn, ty["business_unit_id"])
        state = blank_preferences(conn, Channel(ty["channel"]), ty["business_unit_id"], also=type_id)
    assert brand is not None  # a type's unit always exists (foreign key)
    language = i18n.catalog_language(lang or brand.default_language)
    here = f"{base(request)}/subscription-types/{type_id}/preview"
    page = pages_preview(
        brand,
        state,
        language=language,
        channel=Channel(ty["channel"]),
        lang_url=lambda code: with_query(here, lang=code),
        highlight=type_id,
    )
    return render(
        request,
        "types/preview.html",
        me,
        section="types",
        title=f"Preview: {ty['name']}",
        ty=ty,
        unit_name=brand.name,
        lang=language,
        languages=i18n.SUPPORTED,
        page=page,
        pages_css="/static/pages/pages.css",
    )
