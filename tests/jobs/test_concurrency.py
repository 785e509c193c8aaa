"""Many writers on one address while a bulk job, run by two racing workers, touches it too
(PostgreSQL, where writers really run at the same time): no event lost or duplicated, the
ledger replays to the final state, and no chunk is ever applied by both workers."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import Counter

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assent.actions import subscriptions
from assent.domain.model import Actor, Channel, Evidence, Outcome, Source, Status
from assent.jobs.worker import Worker
from assent.services.ledger import RequestContext
from assent.services.state import load_account
from assent.storage import tables as t
from assent.storage.db import Database
from tests.conftest import Catalog
from tests.jobs.helpers import EXPLAINED, start

pytestmark = pytest.mark.postgres_only

HOT = "hot@example.com"
WRITERS = 8


@pytest.mark.parametrize("backend", ["postgresql"])
def test_it_keeps_one_address_consistent_under_concurrent_writers_and_a_bulk_job(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    types = [make.type(f"Type {n}") for n in range(3)]
    # The hot address is every 50th target: one in each chunk of the job.
    targets = [HOT if n % 50 == 25 else f"cold{n}@example.com" for n in range(1000)]
    job_id = start(
        client, write_headers, addresses=targets, status="SUBSCRIBED", subscription_type_ids=types, **EXPLAINED
    ).json()["id"]

    # Two workers whose lease runs out during their pause between chunks: they take the
    # job from each other all the time, which is where a chunk could be applied twice.
    lease = dt.timedelta(milliseconds=50)
    racers = [Worker(db, chunk_size=50, lease=lease, pause=0.1, poll=0.01) for _ in range(2)]
    finished = threading.Event()
    changed_by_writers = Counter[int]()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        rng = random.Random(seed)
        calls = 0
        try:
            while not finished.is_set() or calls < 20:
                type_id = rng.choice(types)
                [result] = subscriptions.change_statuses(
                    db,
                    channel=Channel.EMAIL,
                    raw_address=HOT,
                    changes=[subscriptions.RequestedChange(type_id, rng.choice(list(Status)))],
                    actor=Actor(Source.API, f"writer-{seed}"),
                    evidence=Evidence(legal_basis_explanation="The person asked on the phone"),
                    context=RequestContext(),
                ).results
                calls += 1
                if result.outcome is Outcome.CHANGED:
                    with lock:
                        changed_by_writers[type_id] += 1
        except BaseException as error:
            errors.append(error)
            raise

    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in racers]
    threads += [threading.Thread(target=write, args=(seed,)) for seed in range(WRITERS)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(600):
            with db.read() as conn:
                status = conn.execute(sa.select(t.jobs.c.status).where(t.jobs.c.id == job_id)).scalar_one()
            if status == "SUCCEEDED":
                break
            finished.wait(0.05)
    finally:
        finished.set()
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors
    assert status == "SUCCEEDED"

    # Every chunk was committed by exactly one worker, both took part, each lost the job to
    # the other at times, and neither ever tried a chunk the other had done (the database
    # would have refused its outcome rows: a failure).
    assert sum(w.chunks[job_id] for w in racers) == 20
    assert [(w.chunks[job_id] > 0, w.leases_lost > 0, w.failures) for w in racers] == [(True, True, 0)] * 2

    with db.read() as conn:
        account = load_account(conn)
        e, o = t.ledger_events, t.job_outcomes
        events = conn.execute(
            sa.select(e.c.subscription_type_id, e.c.old_status, e.c.new_status, e.c.job_id)
            .where(e.c.address_hash == account.address_hash(Channel.EMAIL, HOT))
            .order_by(e.c.id)
        ).all()
        job_changes = Counter(
            conn.execute(
                sa.select(o.c.subscription_type_id).where(
                    o.c.job_id == job_id, o.c.address == HOT, o.c.outcome == "CHANGED"
                )
            ).scalars()
        )
        job_events = conn.execute(sa.select(sa.func.count()).select_from(e).where(e.c.job_id == job_id)).scalar_one()
        job_changed = conn.execute(
            sa.select(sa.func.count()).select_from(o).where(o.c.job_id == job_id, o.c.outcome == "CHANGED")
        ).scalar_one()
    assert job_events == job_changed

    # Replaying the ledger: each event starts where the previous one ended …
    replayed = dict.fromkeys(types, Status.NOT_SPECIFIED.value)
    for type_id, old, new, _ in events:
        assert old == replayed[type_id]
        replayed[type_id] = new
    # … and ends at the state the address is in, and no change is missing or counted twice.
    subscriber = client.get(f"/api/v1/subscribers/EMAIL/{HOT}", headers=write_headers).json()
    assert {s["subscription_type_id"]: s["status"] for s in subscriber["statuses"]} == replayed
    per_type = Counter(type_id for type_id, *_ in events)
    assert per_type == changed_by_writers + job_changes
    assert sum(job_changes.values()) > 0, "the job should have changed the hot address at least once"
