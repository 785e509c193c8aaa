"""What a user reads back about a job: status, progress, counts, per-address outcomes."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.model import Channel, Outcome, Reason
from assent.jobs import queue
from assent.jobs.selection import split_error
from assent.services import csvcells
from assent.services.errors import Invalid, NotFound
from assent.services.state import load_account, load_types, load_wide_opt_outs
from assent.storage import tables as t
from assent.storage.db import Database

OUTCOME_COLUMNS = ("seq", "address", "subscription_type_id", "outcome", "reason", "contact_id", "detail")
_JOB_ID = re.compile(r"job_[0-9a-f]{24}")


def job_view(row: Any) -> dict[str, Any]:
    counts = {**queue.empty_counts(), **(row.counts or {})}
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "progress": {"done": row.done, "total": row.total},
        "counts": counts,
        "params": {k: v for k, v in row.params.items() if k not in ("context", "actor_id")},
        "created_by": row.created_by,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "error": row.error,
    }


def get_job(conn: Connection, job_id: str) -> dict[str, Any]:
    row = conn.execute(sa.select(t.jobs).where(t.jobs.c.id == job_id)).first()
    if row is None:
        raise NotFound("Job", job_id)
    return job_view(row)


def list_jobs(
    conn: Connection, *, cursor: str | None, limit: int, status: str | None, kind: str | None
) -> dict[str, Any]:
    """Newest first; ids are time-ordered, so the last id of a page is the cursor."""
    j = t.jobs
    query = sa.select(j)
    if cursor:
        if not _JOB_ID.fullmatch(cursor):
            raise Invalid("cursor", "not a cursor this API returned")
        query = query.where(j.c.id < cursor)
    if status:
        query = query.where(j.c.status == status)
    if kind:
        query = query.where(j.c.kind == kind)
    rows = conn.execute(query.order_by(j.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"results": [job_view(r) for r in rows], "next": rows[-1].id if more else None}


def subjects(conn: Connection, jobs: list[dict[str, Any]]) -> dict[str, str]:
    """What each job of a page is about, for a list: an import's file name, a workflow's
    name (also of a deleted one). Two queries for the page, none when no job needs one."""
    imports = {str(j["params"]["import_id"]) for j in jobs if j["params"].get("import_id")}
    flows = {int(j["params"]["workflow_id"]) for j in jobs if str(j["params"].get("workflow_id", "")).isdecimal()}
    files: dict[str, str] = {}
    names: dict[int, str] = {}
    if imports:
        i = t.imports
        query = sa.select(i.c.id, i.c.file_name).where(i.c.id.in_(sorted(imports)))
        files = {row.id: row.file_name or row.id for row in conn.execute(query)}
    if flows:
        w = t.workflows
        names = {row.id: row.name for row in conn.execute(sa.select(w.c.id, w.c.name).where(w.c.id.in_(sorted(flows))))}
    found: dict[str, str] = {}
    for job in jobs:
        params = job["params"]
        if params.get("import_id") in files:
            found[job["id"]] = files[params["import_id"]]
        elif str(params.get("workflow_id", "")).isdecimal() and int(params["workflow_id"]) in names:
            found[job["id"]] = names[int(params["workflow_id"])]
    return found


def outcome_rows(db: Database, job_id: str, outcome: str | None = None, page: int = 5000) -> Iterator[dict[str, Any]]:
    """Every outcome of a job in (seq, type) order, read in short transactions so a
    slow download holds no connection between pages."""
    o, g = t.job_outcomes, t.job_targets
    after = (0, -1)
    while True:
        query = (
            sa.select(o.c.seq, o.c.address, o.c.subscription_type_id, o.c.outcome, o.c.reason)
            .add_columns(g.c.contact_id, g.c.error)
            .select_from(o.outerjoin(g, sa.and_(g.c.job_id == o.c.job_id, g.c.seq == o.c.seq)))
            .where(o.c.job_id == job_id, sa.tuple_(o.c.seq, o.c.subscription_type_id) > sa.tuple_(*after))
            .order_by(o.c.seq, o.c.subscription_type_id)
            .limit(page)
        )
        if outcome:
            query = query.where(o.c.outcome == outcome)
        with db.read() as conn:
            rows = conn.execute(query).all()
        for r in rows:
            yield {
                "seq": r.seq,
                "address": r.address,
                "subscription_type_id": r.subscription_type_id,
                "outcome": r.outcome,
                "reason": r.reason,
                "contact_id": r.contact_id,
                "detail": split_error(r.error)[1] if r.error else None,
            }
        if len(rows) < page:
            return
        after = (rows[-1].seq, rows[-1].subscription_type_id)


def as_csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, OUTCOME_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for count, row in enumerate(rows, start=1):
        writer.writerow({name: csvcells.cell(value) for name, value in row.items()})
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def as_ndjson(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    lines: list[str] = []
    for row in rows:
        lines.append(json.dumps(row))
        if len(lines) == 1000:
            yield "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield "\n".join(lines) + "\n"


def refusal_counts(conn: Connection, job: dict[str, Any]) -> list[tuple[str, str | None, int]]:
    """A finished job's refusals as (reason, who set the wide opt-out behind a
    WIDE_OPT_OUT_IN_FORCE, number of contacts), most frequent first: who set it decides who
    may lift it, so a summary says so."""
    o, g, st, w = t.job_outcomes, t.job_targets, t.subscription_types, t.wide_opt_outs
    channel = job["params"]["channel"]
    contacts = sa.func.count(sa.distinct(o.c.seq))
    query = (
        sa.select(o.c.reason, w.c.set_by, contacts)
        .select_from(
            o.outerjoin(g, sa.and_(g.c.job_id == o.c.job_id, g.c.seq == o.c.seq))
            .outerjoin(st, st.c.id == o.c.subscription_type_id)
            .outerjoin(
                w,
                sa.and_(
                    o.c.reason == Reason.WIDE_OPT_OUT_IN_FORCE.value,
                    w.c.address == g.c.address,
                    w.c.channel == channel,
                    w.c.business_unit_id == st.c.business_unit_id,
                ),
            )
        )
        .where(o.c.job_id == job["id"], o.c.outcome == Outcome.REFUSED.value)
        .group_by(o.c.reason, w.c.set_by)
        .order_by(contacts.desc())
    )
    return [(reason, set_by, n) for reason, set_by, n in conn.execute(query)]


def add_wide_set_by(conn: Connection, channel: Channel, outcomes: list[dict[str, Any]]) -> None:
    """Who set the "unsubscribe from all" behind each WIDE_OPT_OUT_IN_FORCE outcome shown
    (`set_by` on the row), with the one "who set this wide opt-out" query."""
    account = load_account(conn)
    units = {ty.id: ty.business_unit_id for ty in load_types(conn).values()}
    keys: dict[str, str] = {}
    for o in outcomes:
        if o["reason"] == Reason.WIDE_OPT_OUT_IN_FORCE and o["address"]:
            keys[o["address"]] = account.normalize_raw(channel, o["address"]).key
    found = load_wide_opt_outs(conn, channel, set(keys.values()))
    for o in outcomes:
        if o["address"] in keys:
            wide = found.get((keys[o["address"]], units.get(o["subscription_type_id"], -1)))
            o["set_by"] = wide.set_by.value if wide else None
