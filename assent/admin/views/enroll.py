"""Contacts index → More → Enroll in workflow: the selection (ticked contacts, or every
contact matching the search) enrolled by the workflows action, as a job the worker runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from assent.actions import workflows as actions
from assent.admin.security import SignedIn, editor
from assent.admin.views.contacts import Search
from assent.admin.web import is_htmx, problem_words, redirect, render
from assent.jobs.selection import MAX_ROWS, ContactSearch
from assent.services import workflows as reading
from assent.services.errors import Problem
from assent.storage.db import Database

router = APIRouter()


def _state(params: Any) -> dict[str, Any]:
    chosen = params.get("workflow_id", "")
    return {
        "contact_ids": [int(v) for v in params.getlist("contact_id") if str(v).isdecimal() and len(str(v)) < 19],
        "all_matching": params.get("all_matching") == "1",
        "search": Search.of(params, "s_"),
        "workflow_id": int(chosen) if isinstance(chosen, str) and chosen.isdecimal() and len(chosen) < 10 else None,
    }


def _panel(
    request: Request, me: SignedIn, state: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    db: Database = request.app.state.db
    with db.read() as conn:
        workflows = [w for w in reading.page(conn, None, 200)["results"] if w["enabled"]]
    template = "workflows/_enroll_panel.html" if is_htmx(request) else "workflows/enroll.html"
    return render(
        request,
        template,
        me,
        status_code=status,
        section="contacts",
        title="Enroll in workflow",
        state=state,
        workflows=workflows,
        errors=errors,
        selected=len(state["contact_ids"]),
    )


def _selection_error(state: dict[str, Any]) -> dict[str, str]:
    if not state["contact_ids"] and not state["all_matching"]:
        return {"selection": "Select contacts first: tick them in the list, or “select all matching”."}
    if len(state["contact_ids"]) > MAX_ROWS:
        return {"selection": f"Select at most {MAX_ROWS:,} contacts, or “select all matching”."}
    return {}


@router.get("/contacts/enroll")
def panel(request: Request, me: SignedIn = Depends(editor)) -> Response:
    state = _state(request.query_params)
    return _panel(request, me, state, _selection_error(state))


@router.post("/contacts/enroll")
async def enroll(request: Request, me: SignedIn = Depends(editor)) -> Response:
    state = _state(await request.form())
    errors = _selection_error(state)
    if state["workflow_id"] is None:
        errors["workflow_id"] = "Choose a workflow."
    if errors:
        return _panel(request, me, state, errors, status=422)
    search = None
    if state["all_matching"]:
        f = state["search"].filter()
        search = ContactSearch(f.q, f.subscription_type_id, f.status, f.business_unit_id)
    db: Database = request.app.state.db
    try:
        done = actions.enroll(
            db,
            state["workflow_id"],
            contact_ids=None if search else state["contact_ids"],
            search=search,
            actor_id=me.user.actor_id,
        )
    except Problem as problem:
        return _panel(request, me, state, problem_words(problem), status=422)
    n = done["contacts"]
    text = f"{n:,} contact{'' if n == 1 else 's'} enrolled; the worker runs the workflow for them now."
    return redirect(request, f"/workflows/{state['workflow_id']}", text)
