"""Every durable job in one list: bulk updates, imports and workflow enrollments, newest
first, keyset-paged by id (ids are time-ordered) — the same reader as `GET /api/v1/jobs`.
Each row links to where the job is explained: a bulk update's own page, the import's, the
workflow's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from assent.admin.security import SignedIn, viewer
from assent.admin.web import render
from assent.jobs import bulk, reports
from assent.jobs import imports as import_jobs
from assent.services import users
from assent.services.errors import Problem
from assent.services.workflows import KIND as WORKFLOW_KIND
from assent.storage.db import Database

router = APIRouter()

PAGE = 50
KINDS = {
    bulk.KIND: "Bulk update",
    import_jobs.KIND: "Import",
    WORKFLOW_KIND: "Workflow enrollment",
}


def _link(job: dict[str, Any]) -> str:
    params = job["params"]
    if job["kind"] == import_jobs.KIND and params.get("import_id"):
        return f"/imports/{params['import_id']}"
    if job["kind"] == WORKFLOW_KIND and params.get("workflow_id") is not None:
        return f"/workflows/{params['workflow_id']}"
    return f"/jobs/{job['id']}"


@router.get("/jobs")
def index(request: Request, after: str | None = None, kind: str = "", me: SignedIn = Depends(viewer)) -> Response:
    db: Database = request.app.state.db
    wanted = kind if kind in KINDS else None
    error = ""
    with db.read() as conn:
        try:
            page = reports.list_jobs(conn, cursor=after or None, limit=PAGE, status=None, kind=wanted)
        except Problem as problem:
            error, page = problem.detail, {"results": [], "next": None}
        jobs = page["results"]
        about = reports.subjects(conn, jobs)
        who = {j["created_by"] for j in jobs if j["created_by"]}
        names = (
            {f"user:{u['id']}": str(u["email"]) for u in users.list_users(conn) if f"user:{u['id']}" in who}
            if any(str(w).startswith("user:") for w in who)
            else {}
        )
    rows = [
        {
            **job,
            "kind_name": KINDS.get(job["kind"], job["kind"]),
            "about": about.get(job["id"], ""),
            "link": _link(job),
            "who": names.get(job["created_by"] or "", job["created_by"] or "—"),
        }
        for job in jobs
    ]
    return render(
        request,
        "jobs/index.html",
        me,
        section="jobs",
        title="Jobs",
        rows=rows,
        next=page["next"],
        after=after,
        kind=wanted or "",
        kinds=KINDS,
        error=error,
    )
