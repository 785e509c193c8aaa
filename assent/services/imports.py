"""Reading imports: their state as the API and admin show it, and the error report."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.imports import LINE_REASONS, NO_ADDRESS_ON_CHANNEL, ImportStatus, summarize
from assent.jobs import queue
from assent.services.errors import NotFound
from assent.services.exports import csv_chunks
from assent.storage import tables as t
from assent.storage.db import Database

_JOB_STATUS = {
    queue.QUEUED: ImportStatus.QUEUED,
    queue.RUNNING: ImportStatus.RUNNING,
    queue.SUCCEEDED: ImportStatus.DONE,
    queue.FAILED: ImportStatus.FAILED,
}

#: What each reason means, for the error report (the codes are what tools switch on).
REASON_WORDS = {
    "INVALID_ADDRESS": "not a valid address",
    "NO_ADDRESS": "the line has no address",
    "UNKNOWN_STATUS": "not a status: use SUBSCRIBED, UNSUBSCRIBED, NOT_SPECIFIED (or opt in, opt out, not opted)",
    "UNKNOWN_VALUE": "not true or false",
    "RAGGED_LINE": "the line has a different number of fields than the header",
    "LINE_TOO_LONG": "the line is too long to read",
    "FIELD_TOO_LONG": "the field is too long",
    "UNKNOWN_SUBSCRIPTION_TYPE": "no subscription type has this id: the column was ignored",
    "WRONG_CHANNEL": "the file has no address column for this type's channel: the column was ignored",
    "UNKNOWN_BUSINESS_UNIT": "no business unit has this id: the column was ignored",
    "IMPORT_CANNOT_RESUBSCRIBE": "the address opted out; an import never resubscribes anyone",
    "WIDE_OPT_OUT_IN_FORCE": "the address unsubscribed from all; an import cannot opt it in",
    "ERASED": "the address was erased; it is kept only as a suppression",
    "ACTOR_CANNOT_REMOVE_WIDE_OPT_OUT": "an import cannot lift an unsubscribe from all",
    "LEGAL_BASIS_REQUIRED": "data privacy mode is on: a legal basis is required",
    "EXPLANATION_REQUIRED": "an explanation is required",
    "PROCESSING_LEGAL_BASIS_REQUIRED": "data privacy mode is on: a legal basis to process the data is required",
    NO_ADDRESS_ON_CHANNEL: "the line has no address on this type's channel",
}


def words(reason: str) -> str:
    return f"{reason}: {REASON_WORDS.get(reason, reason.replace('_', ' ').lower())}"


def _row(conn: Connection, import_id: str) -> Any:
    row = conn.execute(sa.select(t.imports).where(t.imports.c.id == import_id)).first()
    if row is None:
        raise NotFound("Import", import_id)
    return row


def view(conn: Connection, import_id: str) -> dict[str, Any]:
    row = _row(conn, import_id)
    job = None
    if row.job_id:
        j = t.jobs
        job = conn.execute(sa.select(j.c.status, j.c.done, j.c.total, j.c.counts).where(j.c.id == row.job_id)).first()
    return _view(row, job)


def _view(row: Any, job: Any) -> dict[str, Any]:
    status = ImportStatus(row.status)
    counts = summarize({})
    done = 0
    if job is not None:
        status = _JOB_STATUS.get(job.status, ImportStatus.QUEUED)
        counts = summarize(job.counts or {})
        done = row.row_count if status is ImportStatus.DONE else min(row.row_count, max(0, job.done - 1))
    return {
        "id": row.id,
        "kind": row.kind,
        "status": status.value,
        "channel": row.channel,
        "business_unit_id": row.business_unit_id,
        "file_name": row.file_name,
        "row_count": row.row_count,
        "columns": list(row.columns),
        "mapping": dict(row.mapping),
        "sample": list(row.sample),
        "predicted": dict(row.predicted),
        "evidence": dict(row.evidence),  # the legal basis given with the file
        "progress": {"done": done, "total": row.row_count},
        "counts": {k: counts[k] for k in ("CHANGED", "UNCHANGED", "REFUSED", "INVALID")},
        "by_reason": counts["by_reason"],
        "job_id": row.job_id,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "confirmed_by": row.confirmed_by,
        "confirmed_at": row.confirmed_at,
    }


def page(conn: Connection, after: str | None, limit: int) -> dict[str, Any]:
    """Newest first, keyset on the time-ordered id."""
    i, j = t.imports, t.jobs
    query = sa.select(i, j.c.status.label("job_status"), j.c.done, j.c.total, j.c.counts).outerjoin(
        j, j.c.id == i.c.job_id
    )
    if after:
        query = query.where(i.c.id < after)
    rows = conn.execute(query.order_by(i.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    results = []
    for row in rows[:limit]:
        job = None
        if row.job_id:
            job = _Job(row.job_status, row.done, row.total, row.counts)
        results.append(_view(row, job))
    return {"results": results, "next": rows[limit - 1].id if more else None}


class _Job:
    def __init__(self, status: str, done: int, total: int, counts: Any) -> None:
        self.status, self.done, self.total, self.counts = status, done, total, counts


ERROR_COLUMNS = ("line", "column", "value", "reason")


def error_rows(db: Database, import_id: str) -> Iterator[tuple[Any, ...]]:
    """Every line the import could not read (found at upload) or the rules refused (found by
    the job), by the file's own line numbers (the header is line 1)."""
    with db.read() as conn:
        row = _row(conn, import_id)
        columns_of = _columns_by_target(dict(row.mapping))
        address_column = next((c for c, f in dict(row.mapping).items() if f in ("email", "phone")), "")
        e = t.import_errors
        found: list[tuple[int, str, str | None, str]] = [
            (r.line, r.column, r.value, r.reason)
            for r in conn.execute(sa.select(e).where(e.c.import_id == import_id).order_by(e.c.line, e.c.column))
        ]
        if row.job_id:
            o = t.job_outcomes
            for r in conn.execute(
                sa.select(o.c.seq, o.c.subscription_type_id, o.c.address, o.c.reason)
                .where(o.c.job_id == row.job_id, o.c.outcome == "REFUSED")
                .order_by(o.c.seq, o.c.subscription_type_id)
            ):
                if r.reason in LINE_REASONS:
                    continue  # already listed from the upload, with its column
                column = columns_of.get(r.subscription_type_id, address_column)
                found.append((r.seq, column, r.address, r.reason))
    found.sort(key=lambda item: item[0])
    for line, column, value, reason in found:
        yield (line, column, value or "", words(reason))


def _columns_by_target(mapping: dict[str, str]) -> dict[int, str]:
    """Outcome type ids → the column they came from (wide opt-outs are -(unit + 1))."""
    found: dict[int, str] = {}
    for column, target in mapping.items():
        kind, _, ident = target.partition(":")
        if kind == "subscription" and ident.isdecimal():
            found[int(ident)] = column
        elif kind == "unsubscribe_all" and ident.isdecimal():
            found[-(int(ident) + 1)] = column
    return found


def error_csv(db: Database, import_id: str) -> Iterator[str]:
    with db.read() as conn:
        _row(conn, import_id)  # a 404 before the response starts
    return csv_chunks(ERROR_COLUMNS, error_rows(db, import_id))
