"""A large ledger's full check runs the chain in a second process beside the replay
(services/verify.py, `parallel_from`): on both backends it comes to exactly the verdicts of
the check in one process, clean or tampered."""

from __future__ import annotations

import pytest

from assent.services.verify import Report, verify
from assent.storage.db import Database
from tests.conftest import Catalog
from tests.evidence.helpers import seed, tamper
from tests.evidence.test_chain import TAMPERINGS

ONE_PROCESS = 10**12


def both_ways(db: Database) -> tuple[Report, Report]:
    return verify(db, parallel_from=ONE_PROCESS), verify(db, parallel_from=0)


def test_it_verifies_a_clean_ledger_in_two_processes(db: Database, make: Catalog) -> None:
    seed(db, make.type("Newsletter"))
    alone, beside = both_ways(db)
    assert alone.ok, alone.problems
    assert beside.ok, beside.problems
    assert (beside.events, beside.addresses) == (alone.events, alone.addresses) == (6, 4)


@pytest.mark.parametrize("case", ["a status changed", "an event deleted", "two events swapped"])
def test_it_finds_the_same_tampering_in_two_processes(case: str, db: Database, make: Catalog) -> None:
    seed(db, make.type("Newsletter"))
    statements, (event_id, kind) = TAMPERINGS[case]
    tamper(db, *statements)
    alone, beside = both_ways(db)
    assert beside.first is not None
    assert (beside.first.event_id, beside.first.kind) == (event_id, kind)
    assert beside.problems == alone.problems
    assert beside.more_problems == alone.more_problems


@pytest.mark.parametrize("limit", [1, 2, 3, 1000])
@pytest.mark.parametrize(
    "statements",
    [
        TAMPERINGS["a status changed"][0],
        TAMPERINGS["an event deleted"][0],
        # the state tables and the outbox disagree with an intact chain
        ["UPDATE subscription_statuses SET status = 'NOT_SPECIFIED'", "DELETE FROM outbox WHERE event_id > 4"],
    ],
    ids=["chain, replay and tables", "chain and replay", "tables and outbox"],
)
def test_it_lists_and_counts_the_same_problems_up_to_the_limit(
    statements: list[str], limit: int, db: Database, make: Catalog
) -> None:
    """In two processes the comparison with the state tables runs before the chain's
    verdict is in; the listing is still the one-process one: chain problems first, then
    the replay's, the tables', the outbox's, `limit` at most, the rest counted."""
    seed(db, make.type("Newsletter"))
    tamper(db, *statements)
    alone, beside = verify(db, limit=limit, parallel_from=ONE_PROCESS), verify(db, limit=limit, parallel_from=0)
    assert not alone.ok
    assert beside.problems == alone.problems
    assert beside.more_problems == alone.more_problems
    assert beside.first == alone.first
