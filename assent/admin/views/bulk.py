"""More → Edit communication subscriptions: the bulk panel, and the job it starts (R20).

The panel builds the jobs service's `BulkUpdate` — the same one `POST /api/v1/bulk-updates`
builds — acting as the signed-in user (source BULK, actor "user:<id>"). Progress is polled
with htmx, or by the page refreshing itself without JavaScript; the summary turns the
job's outcomes into sentences (admin/words.py) and offers every address's outcome as CSV.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from assent.actions import bulk_updates
from assent.admin import words
from assent.admin.security import SignedIn, editor, viewer
from assent.admin.views.contacts import Search
from assent.admin.web import is_htmx, problem_words, redirect, render
from assent.api.common import client_context
from assent.domain.model import Channel, JobStatus, LegalBasis, Reason, Status
from assent.jobs import bulk, reports
from assent.jobs.selection import ContactSearch, Selection
from assent.services import catalog
from assent.services.errors import Problem
from assent.services.evidence import parse_evidence
from assent.services.state import load_account
from assent.storage.db import Database

router = APIRouter()

OPERATIONS = {
    bulk.Operation.SET_STATUS.value: "Edit subscription statuses",
    bulk.Operation.REMOVE_WIDE_OPT_OUTS.value: "Remove an opt-out of all email that a user added",
}
#: rows of the per-address table on the summary (the CSV has them all)
SHOWN_OUTCOMES = 200


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _choice(raw: Any, allowed: Any, default: str) -> str:
    return raw if isinstance(raw, str) and raw in allowed else default


def _panel_state(params: Any) -> dict[str, Any]:
    """The panel's fields from a query string or a posted form (both are multi-dicts)."""
    unit = params.get("business_unit_id", "0")
    return {
        "contact_ids": [int(v) for v in params.getlist("contact_id") if str(v).isdecimal()],
        "all_matching": params.get("all_matching") == "1",
        "search": Search.of(params, "s_"),
        "operation": _choice(params.get("operation"), OPERATIONS, bulk.Operation.SET_STATUS.value),
        "channel": _choice(params.get("channel"), Channel.__members__, Channel.EMAIL.value),
        "business_unit_id": int(unit) if isinstance(unit, str) and unit.isdecimal() else 0,
        "status": _choice(params.get("status"), Status.__members__, ""),
        "type_ids": [int(v) for v in params.getlist("subscription_type_id") if str(v).isdecimal()],
        "legal_basis": _choice(params.get("legal_basis"), LegalBasis.__members__, ""),
        "processing_legal_basis": _choice(params.get("processing_legal_basis"), LegalBasis.__members__, ""),
        "legal_basis_explanation": str(params.get("legal_basis_explanation", "")).strip()[:4000],
    }


def _panel(
    request: Request, me: SignedIn, state: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    with _db(request).read() as conn:
        policy = load_account(conn).policy
        units = catalog.list_business_units(conn)
        types = catalog.list_subscription_types(
            conn, business_unit_id=state["business_unit_id"], channel=state["channel"]
        )
    selected = len(state["contact_ids"])
    template = "contacts/_bulk_panel.html" if is_htmx(request) else "contacts/bulk.html"
    return render(
        request,
        template,
        me,
        status_code=status,
        section="contacts",
        title="Edit communication subscriptions",
        state=state,
        units=units,
        types=types,
        errors=errors,
        privacy=policy.data_privacy_mode,
        operations=OPERATIONS,
        selected=selected,
    )


@router.get("/contacts/bulk")
def panel(request: Request, me: SignedIn = Depends(editor)) -> Response:
    state = _panel_state(request.query_params)
    errors = {}
    if not state["contact_ids"] and not state["all_matching"]:
        errors["selection"] = "Select contacts first: tick them in the list, or “select all matching”."
    return _panel(request, me, state, errors)


@router.get("/contacts/bulk/types")
def panel_types(request: Request, me: SignedIn = Depends(editor)) -> Response:
    """The types fieldset alone, for a new channel or business unit (htmx)."""
    state = _panel_state(request.query_params)
    with _db(request).read() as conn:
        types = catalog.list_subscription_types(
            conn, business_unit_id=state["business_unit_id"], channel=state["channel"]
        )
    return render(request, "contacts/_bulk_types.html", me, state=state, types=types, errors={})


@router.post("/contacts/bulk")
async def start(request: Request, me: SignedIn = Depends(editor)) -> Response:
    state = _panel_state(await request.form())
    if not state["contact_ids"] and not state["all_matching"]:
        return _panel(request, me, state, {"selection": "Select contacts first."}, status=422)
    if state["all_matching"]:
        f = state["search"].filter()
        selection = Selection(contact_search=ContactSearch(f.q, f.subscription_type_id, f.status, f.business_unit_id))
    else:
        selection = Selection(contact_ids=state["contact_ids"])
    operation = bulk.Operation(state["operation"])
    setting = operation is bulk.Operation.SET_STATUS
    update = bulk.BulkUpdate(
        selection=selection,
        channel=Channel(state["channel"]),
        operation=operation,
        status=Status(state["status"]) if setting and state["status"] else None,
        subscription_type_ids=state["type_ids"] if setting else (),
        business_unit_id=None if setting else state["business_unit_id"],
        evidence=parse_evidence(state),
        source="MANUAL",
    )
    try:
        job_id = bulk_updates.start_bulk_update(
            _db(request), update, actor_id=me.user.actor_id, context=client_context(request)
        )
    except Problem as problem:
        return _panel(request, me, state, _field_words(problem, state["channel"]), status=422)
    return redirect(request, f"/jobs/{job_id}")


_FIELD_NAMES = {"subscription_type_ids": "subscription_type_id"}


def _field_words(problem: Problem, channel: str) -> dict[str, str]:
    errors = {}
    for key, text in problem_words(problem).items():
        name = key.split("[")[0]
        errors[_FIELD_NAMES.get(name, name)] = text
    for error in problem.errors:
        if error.code in words.REFUSALS:
            errors[error.field] = words.refusal(error.code, channel)
    if "status" in errors and errors["status"].startswith("a status is required"):
        errors["status"] = "Choose a status."
    if "subscription_type_id" in errors and "at least one" in errors["subscription_type_id"]:
        errors["subscription_type_id"] = "Choose at least one subscription type."
    return errors


# --- the job: progress, summary, outcomes ---------------------------------------------


def _job_context(conn: Any, job: dict[str, Any]) -> dict[str, Any]:
    params = job["params"]
    channel = params["channel"]
    type_names = {ty["id"]: ty["name"] for ty in catalog.list_subscription_types(conn, include_inactive=True)}
    status = JobStatus(job["status"])
    done = status.finished
    return {
        "job": job,
        "params": params,
        "channel": channel,
        "type_names": type_names,
        "type_list": ", ".join(type_names.get(i, str(i)) for i in params.get("subscription_type_ids") or ()),
        "done": done,
        "failed": status is JobStatus.FAILED,
        "refusals": _refusal_sentences(conn, job) if done else [],
        "percent": int(100 * job["progress"]["done"] / job["progress"]["total"]) if job["progress"]["total"] else 100,
    }


def _refusal_sentences(conn: Any, job: dict[str, Any]) -> list[str]:
    """Refusals counted per contact (not per type) and said in words. A refusal because an
    "unsubscribe from all" is in force says who set it, since that decides who may lift it."""
    channel = job["params"]["channel"]
    counts = reports.refusal_counts(conn, job)
    return [words.refusal(reason, channel, count=n, set_by=set_by) for reason, set_by, n in counts]


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str, me: SignedIn = Depends(viewer)) -> Response:
    db = _db(request)
    with db.read() as conn:
        job = reports.get_job(conn, job_id)
        context = _job_context(conn, job)
    outcomes: list[dict[str, Any]] = []
    if context["done"]:
        for row in reports.outcome_rows(db, job_id):
            outcomes.append(row)
            if len(outcomes) >= SHOWN_OUTCOMES:
                break
    if any(o["reason"] == Reason.WIDE_OPT_OUT_IN_FORCE for o in outcomes):
        with db.read() as conn:
            reports.add_wide_set_by(conn, Channel(context["channel"]), outcomes)
    template = "contacts/_job_status.html" if is_htmx(request) else "contacts/job.html"
    return render(request, template, me, section="contacts", title="Bulk update", outcomes=outcomes, **context)


@router.get("/jobs/{job_id}/outcomes.csv")
def job_csv(request: Request, job_id: str, me: SignedIn = Depends(viewer)) -> Response:
    db = _db(request)
    with db.read() as conn:
        reports.get_job(conn, job_id)
    return StreamingResponse(
        reports.as_csv(reports.outcome_rows(db, job_id)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{job_id}-outcomes.csv"'},
    )
