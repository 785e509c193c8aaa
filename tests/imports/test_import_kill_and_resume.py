"""A worker killed in the middle of an import: the next one resumes at the first unfinished
chunk, every line gets exactly one outcome and every change exactly one ledger event (R21)."""

from __future__ import annotations

import collections
import signal

import sqlalchemy as sa
from fastapi.testclient import TestClient

from assent.storage import tables as t
from assent.storage.db import Database
from tests.conftest import Catalog
from tests.imports.test_imports_api import upload
from tests.jobs.test_kill_and_resume import Workers, progress, wait_for, workers  # noqa: F401

ROWS = 3000


def test_it_resumes_a_killed_import_and_applies_no_line_twice(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str], workers: Workers  # noqa: F811
) -> None:
    make.type()
    # The first 100 come again at the end: their second time is UNCHANGED, in another chunk.
    lines = [f"reader{i}@example.com" for i in range(ROWS)]
    created = upload(client, write_headers, "email\n" + "\n".join(lines + lines[:100]) + "\n").json()
    assert created["row_count"] == ROWS + 100
    confirmed = client.post(
        f"/api/v1/imports/{created['id']}/confirm", json={"row_count": created["row_count"]}, headers=write_headers
    ).json()
    job_id = confirmed["job_id"]

    first = workers.start("--chunk-size", "100", "--lease", "1", "--pause", "0.05")
    _, _, total = wait_for(db, job_id, lambda _s, done, _t: done >= 800)
    first.send_signal(signal.SIGKILL)  # no chance to finish the chunk or hand the job back
    first.wait()
    status, done_at_kill, _ = progress(db, job_id)
    assert (status, done_at_kill < total) == ("RUNNING", True), "the import ended before the kill: make it bigger"

    second = workers.start("--chunk-size", "100", "--lease", "5")
    wait_for(db, job_id, lambda status, _d, _t: status != "RUNNING")
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=30) == 0

    done = client.get(f"/api/v1/imports/{created['id']}", headers=write_headers).json()
    assert done["status"] == "DONE"
    assert done["counts"] == {"CHANGED": ROWS, "UNCHANGED": 100, "REFUSED": 0, "INVALID": 0}
    with db.read() as conn:
        o, e = t.job_outcomes, t.ledger_events
        outcomes = conn.execute(sa.select(o.c.seq, o.c.outcome).where(o.c.job_id == job_id)).all()
        events = conn.execute(sa.select(e.c.address_hash).where(e.c.job_id == job_id)).all()
    # exactly one outcome per line of the file (the header is line 1) …
    assert sorted(seq for seq, _ in outcomes) == list(range(2, ROWS + 100 + 2))
    assert collections.Counter(outcome for _, outcome in outcomes) == {"CHANGED": ROWS, "UNCHANGED": 100}
    # … and exactly one ledger event per address opted out.
    assert len(events) == len(set(events)) == ROWS
