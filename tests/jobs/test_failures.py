"""A chunk that raises: its transaction applies nothing, the job is retried, and after
MAX_ATTEMPTS claims it fails with the error shown to the user."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection

from assent.jobs import queue
from assent.jobs.queue import Job, Target
from assent.jobs.worker import MAX_ATTEMPTS, Worker, register
from assent.storage import tables as t
from assent.storage.db import Database
from tests.conftest import count_rows
from tests.jobs.helpers import job

failures_left: dict[str, int] = {}


def flaky(_db: Database, conn: Connection, job: Job, targets: list[Target]) -> list[dict[str, Any]]:
    """Writes a marker outcome for the chunk's first target, then maybe fails."""
    rows = [{"seq": tg.seq, "subscription_type_id": 0, "address": tg.display, "outcome": "UNCHANGED", "reason": None}
            for tg in targets]  # fmt: skip
    conn.execute(t.job_outcomes.insert(), [{"job_id": job.id, **rows[0], "subscription_type_id": 1}])
    if failures_left.get(job.id, 0):
        failures_left[job.id] -= 1
        raise RuntimeError("the mail server said no")  # after writing: the rollback must undo it
    return rows


register("TEST_FLAKY", flaky)


def queue_job(db: Database, targets: int) -> str:
    with db.write() as conn:
        job_id = queue.insert_job(conn, "TEST_FLAKY", {}, "test", t.now())
        db.bulk_insert(conn, t.job_targets, [
            {"job_id": job_id, "seq": n, "address": f"r{n}@example.com", "display": f"r{n}@example.com"}
            for n in range(1, targets + 1)
        ])  # fmt: skip
        queue.set_total(conn, job_id, targets)
    return job_id


def test_it_retries_a_failing_chunk_and_then_fails_the_job(
    client: TestClient, db: Database, read_headers: dict[str, str]
) -> None:
    worker = Worker(db, chunk_size=2, retry_after=0)
    recovers, gives_up = queue_job(db, 3), queue_job(db, 3)
    failures_left.update({recovers: 1, gives_up: MAX_ATTEMPTS})
    worker.run_until_idle()

    recovered = job(client, read_headers, recovers)
    assert (recovered["status"], recovered["counts"]["UNCHANGED"], recovered["error"]) == ("SUCCEEDED", 3, None)
    failed = job(client, read_headers, gives_up)
    assert (failed["status"], failed["progress"]["done"]) == ("FAILED", 0)
    assert failed["error"] == "RuntimeError: the mail server said no"
    assert failed["finished_at"] is not None
    # Nothing of the failed attempts was kept: the recovered job's 3 outcomes and the
    # markers of its 2 committed chunks.
    assert count_rows(db, "job_outcomes") == 3 + 2
    assert worker.failures == 1 + MAX_ATTEMPTS


def test_it_fails_a_job_of_an_unknown_kind(client: TestClient, db: Database, read_headers: dict[str, str]) -> None:
    with db.write() as conn:
        job_id = queue.insert_job(conn, "FROM_A_NEWER_VERSION", {}, None, t.now())
    Worker(db).run_until_idle()
    assert (job(client, read_headers, job_id)["status"], job(client, read_headers, job_id)["error"]) == (
        "FAILED", "unknown job kind FROM_A_NEWER_VERSION"
    )  # fmt: skip
