"""Settings → Webhooks (admins only): endpoints and their state, create (the secret shown
once), event types, disable/enable, rotate the secret, a test event, the delivery log with
retry; and the mail queue (what has not gone out yet, and what failed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from assent.actions import webhooks as actions
from assent.admin.security import SignedIn, admin
from assent.admin.web import redirect, render
from assent.config import Settings
from assent.domain.webhooks import ALL, SUBSCRIBABLE
from assent.mail.queue import queue_view
from assent.services import webhooks as service
from assent.services.errors import Problem
from assent.storage.db import Database

router = APIRouter()


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _words(problem: Problem) -> str:
    return "; ".join(e.reason for e in problem.errors) or problem.detail


def _types(form: Any) -> list[str]:
    chosen = [str(v) for v in form.getlist("event_types")]
    return [ALL] if not chosen or ALL in chosen else chosen


def _index(request: Request, me: SignedIn, *, created: dict[str, Any] | None = None, error: str | None = None,
           status: int = 200) -> Response:
    with _db(request).read() as conn:
        endpoints = service.list_endpoints(conn)
        counts = service.pending_counts(conn)
        mail = queue_view(conn)
    return render(
        request,
        "settings/webhooks.html",
        me,
        status_code=status,
        section="settings",
        title="Webhooks",
        endpoints=endpoints,
        counts=counts,
        mail=mail,
        created=created,
        error=error,
        types=[t.value for t in SUBSCRIBABLE],
    )


@router.get("/settings/webhooks")
def index(request: Request, me: SignedIn = Depends(admin)) -> Response:
    return _index(request, me)


@router.post("/settings/webhooks")
async def create(request: Request, me: SignedIn = Depends(admin)) -> Response:
    form = await request.form()
    try:
        created = actions.create_webhook(
            _db(request), _settings(request), str(form.get("url", ""))[:2000], _types(form),
            str(form.get("description", ""))[:500],
        )
    except Problem as problem:
        return _index(request, me, error=_words(problem), status=422)
    # Shown in this response only (no redirect): the secret is not shown again.
    return _index(request, me, created=created)


def _detail(request: Request, me: SignedIn, endpoint_id: str, *, secret: str | None = None,
            tested: dict[str, Any] | None = None) -> Response:
    cursor = request.query_params.get("cursor")
    with _db(request).read() as conn:
        endpoint = service.get_endpoint(conn, endpoint_id)
        log = service.attempts_page(conn, endpoint_id, int(cursor) if cursor and cursor.isdecimal() else None, 50)
        counts = service.pending_counts(conn).get(endpoint_id, {})
    return render(
        request,
        "settings/webhook.html",
        me,
        section="settings",
        title=f"Webhook {endpoint['url']}",
        endpoint=endpoint,
        log=log,
        counts=counts,
        secret=secret,
        tested=tested,
        types=[t.value for t in SUBSCRIBABLE],
    )


@router.get("/settings/webhooks/{endpoint_id}")
def detail(request: Request, endpoint_id: str, me: SignedIn = Depends(admin)) -> Response:
    return _detail(request, me, endpoint_id[:40])


@router.post("/settings/webhooks/{endpoint_id}")
async def change(request: Request, endpoint_id: str, me: SignedIn = Depends(admin)) -> Response:
    form = await request.form()
    action = str(form.get("action", ""))
    db, settings, here = _db(request), _settings(request), f"/settings/webhooks/{endpoint_id[:40]}"
    try:
        if action == "types":
            changes = actions.EndpointChanges(event_types=_types(form), fields=frozenset({"event_types"}))
            actions.update_webhook(db, settings, endpoint_id, changes)
            return redirect(request, here, "Saved the event types.")
        if action in ("enable", "disable"):
            changes = actions.EndpointChanges(enabled=action == "enable", fields=frozenset({"enabled"}))
            actions.update_webhook(db, settings, endpoint_id, changes)
            return redirect(request, here, "Enabled: deliveries go on." if action == "enable" else "Disabled.")
        if action == "rotate":
            rotated = actions.rotate_webhook_secret(db, endpoint_id)
            return _detail(request, me, endpoint_id, secret=str(rotated["secret"]))
        if action == "test":
            return _detail(request, me, endpoint_id, tested=actions.send_test_event(db, settings, endpoint_id))
        if action == "delete":
            actions.delete_webhook(db, endpoint_id)
            return redirect(request, "/settings/webhooks", "Deleted the webhook.")
    except Problem as problem:
        return redirect(request, here, _words(problem), kind="bad")
    return redirect(request, here)


@router.post("/settings/webhooks/{endpoint_id}/deliveries/{event_id}/retry")
def retry(request: Request, endpoint_id: str, event_id: int, me: SignedIn = Depends(admin)) -> Response:
    here = f"/settings/webhooks/{endpoint_id[:40]}"
    try:
        actions.retry_delivery(_db(request), endpoint_id, event_id)
    except Problem as problem:
        return redirect(request, here, _words(problem), kind="bad")
    return redirect(request, here, f"Event {event_id} will be delivered again.")
