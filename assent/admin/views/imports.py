"""Imports (R21, R34): upload a CSV, check its mapping and the dry run, confirm the row
count, follow the job, download the error report.

Every step is one call to the imports actions (`actions/imports.py`) or one read of the
imports service; the rules and the prediction live there. The upload's body is bounded by
its Content-Length before anything reads it, and the form parser spools the file to a
temporary file (it is never held whole in memory).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, BinaryIO

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from assent.actions import imports as actions
from assent.admin import words
from assent.admin.security import SignedIn, editor, viewer
from assent.admin.views.import_forms import (
    FormState,
    mapping_options,
    state_of,
    unit_name,
    who_ran,
)
from assent.admin.web import is_htmx, problem_words, redirect, render
from assent.config import Settings
from assent.domain.imports import ImportStatus
from assent.services import catalog
from assent.services import imports as reading
from assent.services.errors import Conflict, Problem
from assent.services.state import load_account
from assent.storage.db import Database

router = APIRouter()

PAGE = 50
#: room for the form's other fields and the multipart framing around the file
_FORM_SLACK = 64 * 1024


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def bounded_upload(request: Request) -> AsyncIterator[None]:
    """Refuse a body larger than the upload limit before anything reads it; afterwards,
    remove the form's spooled file whatever happened (a refused role or CSRF token too)."""
    settings: Settings = request.app.state.settings
    length = request.headers.get("content-length", "")
    if not length.isdecimal():
        raise HTTPException(411, "The upload must say its length (Content-Length).")
    if int(length) > settings.max_upload_bytes + _FORM_SLACK:
        raise HTTPException(413, f"The file is larger than the limit of {settings.max_upload_bytes:,} bytes.")
    try:
        yield
    finally:
        await request.close()


def _index(request: Request, me: SignedIn, state: FormState, errors: dict[str, str], status: int = 200) -> Response:
    after = request.query_params.get("after") or None
    with _db(request).read() as conn:
        page = reading.page(conn, after[:40] if after else None, PAGE)
        units = catalog.list_business_units(conn)
        privacy = load_account(conn).policy.data_privacy_mode
        names = who_ran(conn, page["results"])
    unit_names = {u["id"]: u["name"] for u in units}
    return render(
        request,
        "imports/index.html",
        me,
        status_code=status,
        section="imports",
        title="Imports",
        page=page,
        units=units,
        unit_names=unit_names,
        names=names,
        state=state,
        errors=errors,
        privacy=privacy,
    )


@router.get("/imports")
def index(request: Request, me: SignedIn = Depends(viewer)) -> Response:
    return _index(request, me, FormState(), {})


@router.post("/imports", dependencies=[Depends(bounded_upload)])
async def upload(request: Request, me: SignedIn = Depends(editor)) -> Response:
    form = await request.form()
    try:
        state = state_of(form)
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            return _index(request, me, state, {"file": "Choose the CSV file to import."}, status=422)
        settings: Settings = request.app.state.settings
        body = actions.ImportRequest(
            kind=state.kind_enum,
            channel=state.channel_enum,
            business_unit_id=state.business_unit_id,
            evidence=state.evidence,
            file_name=file.filename,
            max_bytes=settings.max_upload_bytes,
        )
        stream: BinaryIO = file.file
        try:
            created = await run_in_threadpool(
                actions.create_import, _db(request), stream, body, actor_id=me.user.actor_id
            )
        except Problem as problem:
            return _index(request, me, state, problem_words(problem), status=422)
    finally:
        await form.close()
    return redirect(request, f"/imports/{created['id']}")


def _view(request: Request, import_id: str) -> dict[str, Any]:
    with _db(request).read() as conn:
        item = reading.view(conn, import_id[:40])
        unit = unit_name(conn, item["business_unit_id"])
        options = mapping_options(conn, item["kind"])
        privacy = load_account(conn).policy.data_privacy_mode
        names = who_ran(conn, [item])
    done = item["status"] in (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED)
    total = item["progress"]["total"]
    evidence = item["evidence"]
    state = FormState(
        legal_basis=evidence.get("legal_basis") or "",
        legal_basis_explanation=evidence.get("legal_basis_explanation") or "",
        processing_legal_basis=evidence.get("processing_legal_basis") or "",
    )
    return {
        "state": state,
        "item": item,
        "unit": unit,
        "options": options,
        "privacy": privacy,
        "names": names,
        "done": done,
        "awaiting": item["status"] == ImportStatus.AWAITING_CONFIRMATION,
        "percent": int(100 * item["progress"]["done"] / total) if total else 100,
        "predicted": words.import_counts(item["predicted"], item["kind"], item["channel"], unit, predicted=True),
        "results": words.import_counts(
            {**item["counts"], "by_reason": item["by_reason"]}, item["kind"], item["channel"], unit, predicted=False
        ),
        "has_status_columns": any(
            v.startswith(("subscription:", "unsubscribe_all:")) for v in item["mapping"].values()
        ),
    }


@router.get("/imports/{import_id}")
def show(request: Request, import_id: str, me: SignedIn = Depends(viewer)) -> Response:
    context = _view(request, import_id)
    if is_htmx(request) and not context["awaiting"]:
        return render(request, "imports/_status.html", me, **context)
    return render(request, "imports/show.html", me, section="imports", title="Import", errors={}, **context)


@router.post("/imports/{import_id}/mapping")
async def remap(request: Request, import_id: str, me: SignedIn = Depends(editor)) -> Response:
    form = await request.form()
    context = _view(request, import_id)
    item = context["item"]
    columns = item["columns"]
    mapping = {c: str(form.get(f"map_{i}")) for i, c in enumerate(columns) if isinstance(form.get(f"map_{i}"), str)}
    state = state_of(form)
    try:
        actions.remap_import(_db(request), item["id"], mapping, state.evidence, actor_id=me.user.actor_id)
    except Problem as problem:
        errors = {_field(k, columns): v for k, v in problem_words(problem).items()}
        context["item"] = {**item, "mapping": {**item["mapping"], **mapping}}
        context["state"] = state
        return render(
            request,
            "imports/show.html",
            me,
            status_code=422,
            section="imports",
            title="Import",
            errors=errors,
            **context,
        )
    return redirect(request, f"/imports/{item['id']}", "Checked again with the new mapping.")


def _field(key: str, columns: list[str]) -> str:
    """ "mapping.<column>" → the select's name."""
    if key.startswith("mapping.") and key[8:] in columns:
        return f"map_{columns.index(key[8:])}"
    return key


@router.get("/imports/{import_id}/confirm")
def confirm_page(request: Request, import_id: str, me: SignedIn = Depends(editor)) -> Response:
    context = _view(request, import_id)
    if not context["awaiting"]:
        return redirect(request, f"/imports/{context['item']['id']}")
    return render(
        request, "imports/confirm.html", me, section="imports", title="Confirm the import", error="", **context
    )


@router.post("/imports/{import_id}/confirm")
async def confirm(request: Request, import_id: str, me: SignedIn = Depends(editor)) -> Response:
    form = await request.form()
    raw = str(form.get("row_count") or "").strip().replace(",", "").replace("\u202f", "").replace(" ", "")
    context = _view(request, import_id)
    item = context["item"]
    error = ""
    if not raw.isdecimal() or len(raw) > 10:
        error = "Type the number of rows, as a number."
    else:
        try:
            actions.confirm_import(_db(request), item["id"], int(raw), actor_id=me.user.actor_id)
        except Conflict as problem:
            error = problem.detail
    if error:
        return render(
            request,
            "imports/confirm.html",
            me,
            status_code=409 if raw.isdecimal() else 422,
            section="imports",
            title="Confirm the import",
            error=error,
            **context,
        )
    return redirect(request, f"/imports/{item['id']}")


@router.post("/imports/{import_id}/cancel")
def cancel(request: Request, import_id: str, me: SignedIn = Depends(editor)) -> Response:
    actions.cancel_import(_db(request), import_id[:40])
    return redirect(request, "/imports", "The import was cancelled and its file discarded.")


@router.get("/imports/{import_id}/errors.csv")
def errors_csv(request: Request, import_id: str, me: SignedIn = Depends(viewer)) -> Response:
    body = reading.error_csv(_db(request), import_id[:40])
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{import_id[:40]}-errors.csv"'},
    )
