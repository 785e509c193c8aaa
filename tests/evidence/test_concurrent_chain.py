"""Concurrent writers on PostgreSQL, where transactions really overlap, still make one chain:
each transaction links onto the head the previous one committed (no fork, no gap)."""

from __future__ import annotations

import itertools
import threading

import pytest
import sqlalchemy as sa

from assent.actions import subscriptions
from assent.domain.model import Actor, Channel, Evidence, Source, Status
from assent.services import chain
from assent.services.ledger import RequestContext
from assent.storage.db import Database
from tests.conftest import Catalog

pytestmark = pytest.mark.postgres_only

WRITERS = 8
ROUNDS = 25


@pytest.mark.parametrize("backend", ["postgresql"])
def test_concurrent_writers_make_one_valid_chain(db: Database, make: Catalog) -> None:
    types = [make.type(f"Type {n}") for n in range(2)]
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def write(writer: int) -> None:
        try:
            start.wait()
            for n in range(ROUNDS):
                status = Status.SUBSCRIBED if n % 2 == 0 else Status.UNSUBSCRIBED
                subscriptions.change_statuses(
                    db,
                    channel=Channel.EMAIL,
                    raw_address=f"writer{writer}@example.com",
                    changes=[subscriptions.RequestedChange(type_id, status) for type_id in types],
                    actor=Actor(Source.API, f"key-{writer}"),
                    evidence=Evidence(legal_basis_explanation=f"round {n}"),
                    context=RequestContext("192.0.2.1", "test"),
                )
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    with db.read() as conn:
        result = chain.verify_chain(conn)
        links = conn.execute(sa.text("SELECT id, prev_hash, hash FROM ledger_events ORDER BY id")).all()
        head = conn.execute(sa.text("SELECT last_id, last_hash FROM ledger_counter")).one()
    assert result.ok, result.findings
    assert result.events == WRITERS * ROUNDS * len(types)
    assert [row.id for row in links] == list(range(1, len(links) + 1))  # no gap
    assert len({row.prev_hash for row in links}) == len(links)  # no fork: each hash continued once
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(links))
    assert tuple(head) == (links[-1].id, links[-1].hash)
