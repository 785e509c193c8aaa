"""Settings (admins only): data privacy mode, sending rules, double opt-in, SMS numbers,
users and API keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from assent.actions import account
from assent.actions import apikeys as key_actions
from assent.actions import users as user_actions
from assent.admin.security import SignedIn, admin, request_context
from assent.admin.web import redirect, render, validation_words
from assent.api.ledger import SettingsPatch
from assent.services import apikeys, catalog, users, webhooks
from assent.services import settings as settings_service
from assent.services.errors import Problem
from assent.services.users import Role
from assent.storage.db import Database

router = APIRouter()


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _page(
    request: Request,
    me: SignedIn,
    *,
    errors: dict[str, str] | None = None,
    new_key: str | None = None,
    status: int = 200,
    draft: dict[str, Any] | None = None,
) -> Response:
    with _db(request).read() as conn:
        current = settings_service.get_settings(conn)
        units = catalog.list_business_units(conn)
        people = users.list_users(conn)
        keys = apikeys.list_api_keys(conn)
        hooks = webhooks.list_endpoints(conn)
    return render(
        request,
        "settings/index.html",
        me,
        status_code=status,
        section="settings",
        title="Settings",
        settings={**current, **(draft or {})},
        units=units,
        users=people,
        keys=keys,
        webhooks=hooks,
        roles=[r.value for r in Role],
        scopes=apikeys.SCOPES,
        errors=errors or {},
        new_key=new_key,
    )


@router.get("/settings")
def index(request: Request, me: SignedIn = Depends(admin)) -> Response:
    return _page(request, me)


@router.post("/settings")
async def save(request: Request, me: SignedIn = Depends(admin)) -> Response:
    form = await request.form()
    numbers: dict[str, Any] = {}
    for key in form:
        if key.startswith("sms_number_"):
            number = str(form.get(key, "")).strip()
            unit = str(form.get("sms_bu_" + key.removeprefix("sms_number_"), "")).strip()
            if number:
                numbers[number] = unit
    values: dict[str, Any] = {
        "data_privacy_mode": form.get("data_privacy_mode") == "on",
        "consent_required_to_send": form.get("consent_required_to_send") == "on",
        "double_opt_in": form.get("double_opt_in") == "on",
        "default_phone_region": str(form.get("default_phone_region", "")).strip() or None,
        "sms_numbers": numbers,
    }
    if form.get("sms_revocation_policy"):
        values["sms_revocation_policy"] = str(form.get("sms_revocation_policy"))
    try:
        body = SettingsPatch.model_validate(values)
        account.update_settings(_db(request), body.model_dump(exclude_unset=True), me.by, request_context(request))
    except ValidationError as error:
        return _page(request, me, errors=validation_words(error), status=422, draft=values)
    except Problem as problem:
        errors = {e.field: e.reason for e in problem.errors} or {"_": problem.detail}
        return _page(request, me, errors=errors, status=422, draft=values)
    return redirect(request, "/settings", "Settings saved.")


# --- users --------------------------------------------------------------------------------


@router.post("/settings/users")
async def add_user(request: Request, me: SignedIn = Depends(admin)) -> Response:
    form = await request.form()
    try:
        created = user_actions.create_user(
            _db(request),
            str(form.get("email", "")),
            str(form.get("role", "")),
            str(form.get("password", "")),
            me.by,
            request_context(request),
        )
    except Problem as problem:
        errors = {f"user_{e.field}": e.reason for e in problem.errors} or {"user_email": problem.detail}
        return _page(request, me, errors=errors, status=422)
    return redirect(request, "/settings#users", f"Added {created.email} as {created.role.value}.")


@router.post("/settings/users/{user_id}")
async def change_user(request: Request, user_id: int, me: SignedIn = Depends(admin)) -> Response:
    form = await request.form()
    action = str(form.get("action", ""))
    db, by, context = _db(request), me.by, request_context(request)
    try:
        if action == "role":
            changed = user_actions.change_role(db, user_id, str(form.get("role", "")), by, context)
            text = f"{changed.email} is now {changed.role.value}."
        elif action == "password":
            changed = user_actions.reset_password(db, user_id, str(form.get("password", "")), by, context)
            text = f"Set a new password for {changed.email}; their sessions ended."
        elif action in ("disable", "enable"):
            changed = user_actions.set_disabled(db, user_id, action == "disable", by, context)
            text = f"{changed.email} is {'disabled' if action == 'disable' else 'enabled again'}."
        else:
            return redirect(request, "/settings#users")
    except Problem as problem:
        return redirect(
            request, "/settings#users", problem.errors[0].reason if problem.errors else problem.detail, kind="bad"
        )
    return redirect(request, "/settings#users", text)


# --- API keys -----------------------------------------------------------------------------


@router.post("/settings/api-keys")
async def create_key(request: Request, me: SignedIn = Depends(admin)) -> Response:
    form = await request.form()
    scopes = [str(s) for s in form.getlist("scopes")]
    try:
        _, key = key_actions.create_api_key(
            _db(request), str(form.get("name", "")), scopes, me.by, request_context(request)
        )
    except Problem as problem:
        errors = {f"key_{e.field}": e.reason for e in problem.errors}
        return _page(request, me, errors=errors, status=422)
    # Shown in this response only (no redirect, no-store): the key is not kept anywhere.
    return _page(request, me, new_key=key)


@router.post("/settings/api-keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: str, me: SignedIn = Depends(admin)) -> Response:
    done = key_actions.revoke_api_key(_db(request), key_id, me.by, request_context(request))
    return redirect(
        request, "/settings#api-keys", f"Revoked the API key {key_id}." if done else "That key was already revoked."
    )
