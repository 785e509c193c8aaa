"""On SQLite `verify_chain` has the database make the text each event's hash is taken over
(services/chain.py, `json_array`) and reads an event whole only when that text does not
hash right: whatever the rows hold, it comes to exactly what the check of whole rows
(`ChainChecker.feed_rows`) says — clean, tampered, or a value JSON cannot hold."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from assent.services import chain
from assent.storage.db import Database
from assent.storage.ledger_guard import drop_ledger_guard
from tests.conftest import Catalog
from tests.evidence.helpers import seed, tamper
from tests.evidence.test_chain import TAMPERINGS


def by_whole_rows(db: Database) -> Any:
    with db.read() as conn:
        check = chain.checker(conn)
        names, found = chain.batches(conn)
        for batch in found:
            check.feed_rows(batch, names)
        return check.finish()


def both_ways(db: Database) -> tuple[Any, Any]:
    """(verify_chain's result or the exception it raised, the same of whole rows)"""
    found = []
    for way in (lambda: _verify_chain(db), lambda: by_whole_rows(db)):
        try:
            found.append(way())
        except Exception as error:  # the same failure is the same verdict
            found.append(type(error))
    return found[0], found[1]


def _verify_chain(db: Database) -> Any:
    with db.read() as conn:
        return chain.verify_chain(conn)


@pytest.mark.parametrize("case", list(TAMPERINGS))
def test_each_tampering_is_found_as_in_whole_rows(case: str, db: Database, make: Catalog) -> None:
    seed(db, make.type("Newsletter"))
    statements, (event_id, kind) = TAMPERINGS[case]
    tamper(db, *statements)
    in_sql, whole = both_ways(db)
    assert in_sql == whole
    assert in_sql.first is not None
    assert (in_sql.first.event_id, in_sql.first.kind) == (event_id, kind)


#: values the database's JSON writes otherwise than Python's, or not at all; the ledger
#: is chained again afterwards (as a migration would), so each is a clean ledger
ODD_VALUES = {
    "quotes, control characters, non-ASCII": "UPDATE ledger_events SET actor_id = :text WHERE id = 2",
    "an empty string": "UPDATE ledger_events SET job_id = '', notice_version = '' WHERE id = 3",
    "a time stored without microseconds": "UPDATE ledger_events SET at = '2026-01-01 10:00:00' WHERE id = 4",
}


@pytest.mark.parametrize("case", list(ODD_VALUES))
def test_odd_values_of_a_clean_ledger_verify_as_in_whole_rows(case: str, db: Database, make: Catalog) -> None:
    seed(db, make.type("Newsletter"))
    tamper(db, ODD_VALUES[case], text='k"e\\y\n\t\x01\x1f\u2028é✓')
    with db.write() as conn:
        drop_ledger_guard(conn)
        chain.chain_existing(conn)
    in_sql, whole = both_ways(db)
    assert whole.ok, whole.findings
    assert in_sql == whole


def test_a_value_json_cannot_hold_gives_what_whole_rows_give(db: Database, make: Catalog) -> None:
    """A BLOB (SQLite keeps whatever it is given; PostgreSQL refuses bytes in a text column,
    so there the value is the text of the bytes): `json_array` refuses it."""
    seed(db, make.type("Newsletter"))
    with db.read() as conn:
        sqlite = conn.dialect.name == "sqlite"
    tamper(db, "UPDATE ledger_events SET actor_id = " + ("X'00ff'" if sqlite else "'\\x00ff'") + " WHERE id = 2")
    in_sql, whole = both_ways(db)
    assert in_sql == whole
    with db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ledger_events")).scalar_one() == 6
