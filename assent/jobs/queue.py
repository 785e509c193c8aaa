"""Job rows and their lease, with compare-and-set updates only (STYLE: healthchecks' worker).

A job's targets are numbered 1..total (`job_targets.seq`); `done` is the last seq whose
outcome is committed. A worker holds a job while `lease_owner` is its name and `lease_until`
is in the future. Every chunk's transaction first moves `done` forward with

    UPDATE jobs SET done = :new, lease_until = :later
     WHERE id = :id AND lease_owner = :me AND status = 'RUNNING' AND done = :old

and goes on only if that touched one row. On PostgreSQL the update also locks the job row
until commit, so a claimer waiting for an expired lease re-reads the row after we commit
and sees the lease we just extended; on SQLite the write transaction is exclusive anyway.
No `SELECT … FOR UPDATE`, which SQLite would silently ignore. So two workers never apply
one chunk, and a killed worker's uncommitted chunk is simply done again by the next one.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.model import JobStatus, Outcome
from assent.storage import tables as t
from assent.storage.db import Database

QUEUED, RUNNING, SUCCEEDED, FAILED = JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED
OUTCOMES = tuple(Outcome)


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: str
    params: dict[str, Any]
    total: int
    done: int
    attempts: int


class Target(NamedTuple):
    """One row of a job's work (made per row of a chunk: a tuple, built straight from the row)."""

    seq: int
    address: str | None  # the normalized key; None when the row named no usable address
    display: str | None
    contact_id: int | None
    error: str | None


def default_owner() -> str:
    """A worker's name in leases: host, process and a random part (threads of one process differ)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def new_job_id() -> str:
    """Time-ordered ids (milliseconds, then randomness): the list pages by id alone."""
    return f"job_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"


def empty_counts() -> dict[str, Any]:
    return {"CHANGED": 0, "UNCHANGED": 0, "REFUSED": 0, "by_reason": {}}


def add_counts(counts: Mapping[str, Any], outcomes: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    merged = {**empty_counts(), **counts}
    by_reason = dict(merged["by_reason"])
    for row in outcomes:
        merged[row["outcome"]] += 1
        if row["reason"]:
            by_reason[row["reason"]] = by_reason.get(row["reason"], 0) + 1
    merged["by_reason"] = dict(sorted(by_reason.items()))
    return merged


def insert_job(
    conn: Connection, kind: str, params: dict[str, Any], created_by: str | None, at: dt.datetime
) -> str:
    job_id = new_job_id()
    conn.execute(
        t.jobs.insert().values(
            id=job_id,
            kind=kind,
            status=QUEUED,
            params=params,
            total=0,
            done=0,
            counts=empty_counts(),
            attempts=0,
            created_by=created_by,
            created_at=at,
        )
    )
    return job_id


def set_total(conn: Connection, job_id: str, total: int) -> None:
    conn.execute(sa.update(t.jobs).where(t.jobs.c.id == job_id).values(total=total))


# --- claiming and holding a job -----------------------------------------------------------


def claimable(conn: Connection, now: dt.datetime, limit: int = 10) -> list[str]:
    """Jobs waiting for a worker, oldest first: queued, or running under an expired lease."""
    j = t.jobs
    return list(
        conn.execute(
            sa.select(j.c.id)
            .where(_claimable(now))
            .order_by(j.c.created_at, j.c.id)
            .limit(limit)
        ).scalars()
    )


def _claimable(now: dt.datetime) -> sa.ColumnElement[bool]:
    j = t.jobs
    return sa.or_(j.c.status == QUEUED, sa.and_(j.c.status == RUNNING, j.c.lease_until < now))


def claim(db: Database, job_id: str, owner: str, lease: dt.timedelta) -> Job | None:
    """Take a job if nobody holds it; None if another worker was first."""
    j = t.jobs
    now = t.now()
    with db.write() as conn:
        taken = conn.execute(
            sa.update(j)
            .where(j.c.id == job_id, _claimable(now))
            .values(
                status=RUNNING,
                lease_owner=owner,
                lease_until=now + lease,
                attempts=j.c.attempts + 1,
                started_at=sa.func.coalesce(j.c.started_at, now),
            )
        ).rowcount
        if taken != 1:
            return None
        row = conn.execute(
            sa.select(j.c.id, j.c.kind, j.c.params, j.c.total, j.c.done, j.c.attempts).where(j.c.id == job_id)
        ).one()
    return Job(row.id, row.kind, dict(row.params), row.total, row.done, row.attempts)


def advance(conn: Connection, job: Job, owner: str, new_done: int, lease: dt.timedelta) -> bool:
    """The chunk's compare-and-set (see the module docstring). False: the lease is lost."""
    j = t.jobs
    moved = conn.execute(
        sa.update(j)
        .where(j.c.id == job.id, j.c.lease_owner == owner, j.c.status == RUNNING, j.c.done == job.done)
        .values(done=new_done, lease_until=t.now() + lease)
    ).rowcount
    return moved == 1


def targets(conn: Connection, job_id: str, after: int, through: int) -> list[Target]:
    g = t.job_targets
    rows = conn.execute(
        sa.select(g.c.seq, g.c.address, g.c.display, g.c.contact_id, g.c.error)
        .where(g.c.job_id == job_id, g.c.seq > after, g.c.seq <= through)
        .order_by(g.c.seq)
    )
    return list(map(Target._make, rows))


def record(conn: Connection, job: Job, outcomes: list[dict[str, Any]], finished: bool) -> None:
    """Add a chunk's outcome counts; the caller holds the job row (after `advance`)."""
    j = t.jobs
    counts = conn.execute(sa.select(j.c.counts).where(j.c.id == job.id)).scalar_one()
    values: dict[str, Any] = {"counts": add_counts(counts or {}, outcomes)}
    if finished:
        values.update(status=SUCCEEDED, finished_at=t.now(), lease_owner=None, lease_until=None, error=None)
    conn.execute(sa.update(j).where(j.c.id == job.id).values(**values))


def finish_empty(db: Database, job: Job, owner: str) -> bool:
    """A job with nothing (left) to do succeeds — if it is still ours."""
    j = t.jobs
    with db.write() as conn:
        return (
            conn.execute(
                sa.update(j)
                .where(j.c.id == job.id, j.c.lease_owner == owner, j.c.status == RUNNING, j.c.done == j.c.total)
                .values(status=SUCCEEDED, finished_at=t.now(), lease_owner=None, lease_until=None, error=None)
            ).rowcount
            == 1
        )


def release(db: Database, job_id: str, owner: str, *, retry_after: dt.timedelta = dt.timedelta(0)) -> None:
    """Give a job back (shutdown, or a retry later): any worker may claim it after `retry_after`."""
    j = t.jobs
    with db.write() as conn:
        conn.execute(
            sa.update(j)
            .where(j.c.id == job_id, j.c.lease_owner == owner, j.c.status == RUNNING)
            .values(lease_owner=None, lease_until=t.now() + retry_after)
        )


def note_error(
    db: Database, job_id: str, owner: str, error: str, *, final: bool, retry_after: dt.timedelta = dt.timedelta(0)
) -> None:
    """Record an error: the job fails for good, or goes back to the queue after a pause."""
    j = t.jobs
    values: dict[str, Any] = {"error": error[:4000], "lease_owner": None}
    if final:
        values.update(status=FAILED, finished_at=t.now(), lease_until=None)
    else:
        values.update(lease_until=t.now() + retry_after)
    with db.write() as conn:
        conn.execute(
            sa.update(j).where(j.c.id == job_id, j.c.lease_owner == owner, j.c.status == RUNNING).values(**values)
        )
