"""A worker killed in the middle of a job: the next one resumes it and nothing is applied
twice (R20). Real `assent worker` processes against the test's own database."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assent.storage import tables as t
from assent.storage.db import Database
from tests.conftest import Catalog
from tests.jobs.helpers import start

ADDRESSES = [f"reader{i}@example.com" for i in range(2000)]


class Workers:
    """`assent worker` processes, each logging to a file; none outlives the test."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.database_url = database_url
        self.tmp_path = tmp_path
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *options: str) -> subprocess.Popen[bytes]:
        env = {
        **os.environ,
            "ASSENT_DATABASE_URL": self.database_url,
            "ASSENT_SECRET_KEYS": "test-secret-key",
            "PYTHONUNBUFFERED": "1",
        }
        with (self.tmp_path / f"worker-{len(self.started)}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-c", "from assent.cli.main import cli; cli()", "worker", "--poll", "0.1", *options],
                env=env,
                cwd=self.tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(database_url, tmp_path)
    yield started
    started.stop_all()  # a failed test must not leave workers behind


def progress(db: Database, job_id: str) -> tuple[str, int, int]:
    with db.read() as conn:
        row = conn.execute(sa.select(t.jobs.c.status, t.jobs.c.done, t.jobs.c.total).where(t.jobs.c.id == job_id)).one()
    return row.status, row.done, row.total


def wait_for(db: Database, job_id: str, ready: collections.abc.Callable[[str, int, int], bool]) -> tuple[str, int, int]:
    deadline = time.monotonic() + 60
    while not ready(*(state := progress(db, job_id))):
        assert time.monotonic() < deadline, f"job stuck at {state}"
        time.sleep(0.02)
    return state


def test_it_resumes_a_killed_worker_and_applies_nothing_twice(
    client: TestClient,
    db: Database,
    make: Catalog,
    write_headers: dict[str, str],
    workers: Workers,
) -> None:
    types = [make.type(f"Type {n}") for n in range(3)]
    # The first 100 come again at the end: their second time is UNCHANGED, in another chunk.
    created = start(
        client, write_headers, addresses=ADDRESSES + ADDRESSES[:100], status="SUBSCRIBED", subscription_type_ids=types
    )
    job_id = created.json()["id"]

    first = workers.start("--chunk-size", "100", "--lease", "1", "--pause", "0.05")
    _, _, total = wait_for(db, job_id, lambda _s, done, _t: done >= 500)
    first.send_signal(signal.SIGKILL)  # no chance to finish the chunk or hand the job back
    first.wait()
    status, done_at_kill, _ = progress(db, job_id)
    assert (status, done_at_kill < total) == ("RUNNING", True), "the job ended before the kill: make it bigger"

    second = workers.start("--chunk-size", "100", "--lease", "5")
    wait_for(db, job_id, lambda status, _d, _t: status != "RUNNING")
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=30) == 0  # SIGTERM: a clean exit

    job = client.get(f"/api/v1/jobs/{job_id}", headers=write_headers).json()
    assert (job["status"], job["progress"]) == ("SUCCEEDED", {"done": total, "total": total})
    with db.read() as conn:
        o, e = t.job_outcomes, t.ledger_events
        outcomes = conn.execute(sa.select(o.c.seq, o.c.subscription_type_id, o.c.outcome).where(o.c.job_id == job_id)).all()
        events = conn.execute(sa.select(e.c.address, e.c.subscription_type_id).where(e.c.job_id == job_id)).all()
    # exactly one outcome per target and type …
    assert sorted((seq, type_id) for seq, type_id, _ in outcomes) == [
        (seq, type_id) for seq in range(1, total + 1) for type_id in sorted(types)
    ]
    tally = collections.Counter(outcome for _, _, outcome in outcomes)
    assert tally == {"CHANGED": 2000 * 3, "UNCHANGED": 100 * 3}
    assert {k: job["counts"][k] for k in tally} == dict(tally)
    # … and exactly one ledger event per actual change.
    assert len(events) == len(set(events)) == tally["CHANGED"]
