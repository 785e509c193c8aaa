"""Workflows (R23): the list, the editor (trigger picker and action list), enable/disable,
delete, and each workflow's run log with its refusals in words.

Saving is one call to the workflows actions, which check the types, the units and — in data
privacy mode — the legal basis of an opt-in (asked of the rules); their field errors are put
back on the form. No rule is written here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from assent.actions import workflows as actions
from assent.admin import words
from assent.admin.security import SignedIn, editor, viewer
from assent.admin.views.workflow_forms import Editor, Names, editor_of, field_of, form_errors
from assent.admin.web import problem_words, redirect, render
from assent.services import catalog
from assent.services import workflows as reading
from assent.services.errors import Problem
from assent.services.state import load_account
from assent.services.workflow_log import refusal_facts
from assent.storage.db import Database

router = APIRouter()

RUNS_PAGE = 100
OUTCOMES = ("CHANGED", "UNCHANGED", "REFUSED")


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@router.get("/workflows")
def index(request: Request, me: SignedIn = Depends(viewer)) -> Response:
    after = request.query_params.get("after", "")
    with _db(request).read() as conn:
        page = reading.page(conn, int(after) if after.isdecimal() and len(after) < 10 else None, 100)
        names = Names.load(conn)
    return render(request, "workflows/index.html", me, section="workflows", title="Workflows", page=page, names=names)


def _editor_page(
    request: Request, me: SignedIn, state: Editor, errors: dict[str, str], workflow_id: int | None, status: int = 200
) -> Response:
    with _db(request).read() as conn:
        types = catalog.list_subscription_types(conn)
        units = catalog.list_business_units(conn)
        privacy = load_account(conn).policy.data_privacy_mode
    return render(
        request,
        "workflows/form.html",
        me,
        status_code=status,
        section="workflows",
        title="Edit workflow" if workflow_id else "Create workflow",
        state=state,
        errors=errors,
        workflow_id=workflow_id,
        types=types,
        units=units,
        unit_names={u["id"]: u["name"] for u in units},
        privacy=privacy,
    )


@router.get("/workflows/new")
def new(request: Request, me: SignedIn = Depends(editor)) -> Response:
    return _editor_page(request, me, Editor(), {}, None)


@router.get("/workflows/types")
def types_fragment(request: Request, me: SignedIn = Depends(editor)) -> Response:
    """One action's type select for its channel (htmx, when the channel changes)."""
    index = request.query_params.get("index", "0")
    i = int(index) if index.isdecimal() and len(index) < 3 else 0
    channel = request.query_params.get(f"a{i}_channel", "EMAIL")
    with _db(request).read() as conn:
        types = catalog.list_subscription_types(conn, channel=channel)
        units = {u["id"]: u["name"] for u in catalog.list_business_units(conn)}
    action = {"channel": channel, "subscription_type_id": None}
    return render(request, "workflows/_types.html", me, i=i, action=action, types=types, unit_names=units, errors={})


async def _save(request: Request, me: SignedIn, workflow_id: int | None) -> Response:
    form = await request.form()
    state = editor_of(form)
    if form.get("do") in ("add", "refresh"):  # re-shown with another row / the channel's types
        return _editor_page(request, me, state, {}, workflow_id)
    errors = form_errors(state)
    if not errors:
        try:
            if workflow_id is None:
                saved = actions.create_workflow(_db(request), state.values(), actor_id=me.user.actor_id)
            else:
                saved = actions.update_workflow(_db(request), workflow_id, state.values())
        except Problem as problem:
            errors = {field_of(k): v for k, v in problem_words(problem).items()}
        else:
            return redirect(request, f"/workflows/{saved['id']}", f"Saved “{saved['name']}”.")
    return _editor_page(request, me, state, errors, workflow_id, status=422)


@router.post("/workflows")
async def create(request: Request, me: SignedIn = Depends(editor)) -> Response:
    return await _save(request, me, None)


@router.get("/workflows/{workflow_id}/edit")
def edit(request: Request, workflow_id: int, me: SignedIn = Depends(editor)) -> Response:
    with _db(request).read() as conn:
        workflow = reading.view(conn, workflow_id)
    return _editor_page(request, me, Editor.of_workflow(workflow), {}, workflow_id)


@router.post("/workflows/{workflow_id}")
async def update(request: Request, workflow_id: int, me: SignedIn = Depends(editor)) -> Response:
    return await _save(request, me, workflow_id)


@router.post("/workflows/{workflow_id}/enabled")
async def enable(request: Request, workflow_id: int, me: SignedIn = Depends(editor)) -> Response:
    on = (await request.form()).get("enabled") == "1"
    saved = actions.update_workflow(_db(request), workflow_id, {"enabled": on})
    text = "enabled: it enrolls contacts from now on" if on else "disabled: it enrolls no one"
    return redirect(request, f"/workflows/{workflow_id}", f"“{saved['name']}” is {text}.")


@router.get("/workflows/{workflow_id}/delete")
def delete_page(request: Request, workflow_id: int, me: SignedIn = Depends(editor)) -> Response:
    with _db(request).read() as conn:
        workflow = reading.view(conn, workflow_id)
    return render(request, "workflows/delete.html", me, section="workflows", title="Delete workflow", workflow=workflow)


@router.post("/workflows/{workflow_id}/delete")
def delete(request: Request, workflow_id: int, me: SignedIn = Depends(editor)) -> Response:
    actions.delete_workflow(_db(request), workflow_id)
    return redirect(request, "/workflows", "The workflow was deleted; it enrolls no one. Its run log stays readable.")


@router.get("/workflows/{workflow_id}")
def show(request: Request, workflow_id: int, me: SignedIn = Depends(viewer)) -> Response:
    params = request.query_params
    outcome = params.get("outcome") if params.get("outcome") in OUTCOMES else None
    after = (params.get("after") or "")[:60] or None
    with _db(request).read() as conn:
        workflow = reading.view(conn, workflow_id, include_deleted=True)
        runs = reading.runs(conn, workflow_id, after=after, limit=RUNS_PAGE, outcome=outcome, reason=None)
        facts = refusal_facts(conn, runs["results"])
        names = Names.load(conn)
    rows = [_run_row(run, workflow, names, facts) for run in runs["results"]]
    return render(
        request,
        "workflows/show.html",
        me,
        section="workflows",
        title=workflow["name"],
        workflow=workflow,
        names=names,
        rows=rows,
        next=runs["next"],
        outcome=outcome or "",
        after=after,
    )


def _run_row(run: dict[str, Any], workflow: dict[str, Any], names: Names, facts: Any) -> dict[str, Any]:
    """One enrolled contact: each action said in words, with why it did nothing if so."""
    configured = workflow["actions"]
    steps = []
    for position, action in enumerate(run["actions"], start=1):
        setup = configured[position - 1] if position <= len(configured) else action
        channel = str(setup.get("channel", "EMAIL"))
        why = ""
        if action["outcome"] == "REFUSED":
            fact = facts.get((run["contact_id"], action["subscription_type_id"]), {})
            why = words.run_refusal(action["reason"], channel, since=fact.get("since"), set_by=fact.get("set_by"))
        steps.append(
            {
                "what": names.action({**setup, **{k: v for k, v in action.items() if v is not None}}),
                "outcome": action["outcome"],
                "why": why,
            }
        )
    return {**run, "steps": steps}
