"""Migration 0010 chains a ledger written before the chain existed, in chunks, on both backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from assent.domain.model import Actor, Channel, Source, Status
from assent.services import chain
from assent.services.changes import Writer
from assent.services.state import load_account, load_types
from assent.storage import tables as t
from assent.storage.db import Database
from assent.storage.migrate import alembic_config, migrate
from tests.conftest import POSTGRES_URL, _pg_admin, _postgres_or_skip

EVENTS = 250


@pytest.fixture
def empty_db(backend: str, tmp_path: Path) -> Iterator[Database]:
    if backend == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'old.db'}")
        yield database
        database.dispose()
        return
    _postgres_or_skip()
    name = f"assent_migration_{tmp_path.name[-20:].replace('-', '_')}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _pg_admin(f'CREATE DATABASE "{name}"')
    database = Database(sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
    yield database
    database.dispose()
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def upgrade_to(db: Database, revision: str) -> None:
    config = alembic_config(db)
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.commit()


def old_events() -> list[dict[str, object]]:
    """A ledger as revision 0006 stored it: three people, one of them erased (redacted)."""
    at = dt.datetime(2026, 3, 3, 9, 30, tzinfo=dt.UTC)
    rows: list[dict[str, object]] = []
    for n in range(1, EVENTS + 1):
        person = n % 3
        erased = person == 2 and n < EVENTS - 1
        rows.append(
            {
                "address_hash": f"{person:032x}",
                "id": n,
                "at": at + dt.timedelta(seconds=n),
                "kind": "STATUS",
                "channel": "EMAIL",
                "address": None if erased else f"person{person}@example.com",
                "business_unit_id": 0,
                "subscription_type_id": 1,
                "old_status": "NOT_SPECIFIED" if n <= 3 else "SUBSCRIBED",
                "new_status": "SUBSCRIBED",
                "legal_basis": "CONSENT_WITH_NOTICE",
                "legal_basis_explanation": None if erased else f"form {n}",
                "source": "FORM",
                "actor_kind": "CONTACT",
                "ip": None if erased else "198.51.100.0",
                "user_agent": None if erased else "Mozilla/5.0",
                "redacted": erased,
            }
        )
    rows.append({**rows[-1], "id": EVENTS + 1, "address_hash": f"{2:032x}", "kind": "ERASURE",
                 "address": None, "legal_basis_explanation": None, "new_status": "ERASED", "redacted": False})  # fmt: skip
    return rows


def test_it_chains_an_existing_ledger(empty_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade_to(empty_db, "0006")
    rows = old_events()
    columns = [c for c in t.ledger_events.columns if c.name in rows[0]]
    old_ledger = sa.table("ledger_events", *(sa.column(c.name, c.type) for c in columns))
    with empty_db.write() as conn:
        conn.execute(sa.insert(old_ledger), rows)
        conn.execute(sa.text("UPDATE ledger_counter SET last_id = :n"), {"n": len(rows)})
    monkeypatch.setattr(chain, "CHUNK", 40)  # several chunks
    migrate(empty_db)

    with empty_db.read() as conn:
        result = chain.verify_chain(conn)
        stored = conn.execute(sa.text("SELECT count(*) FROM ledger_events WHERE hash IS NULL")).scalar_one()
        head = conn.execute(sa.text("SELECT last_hash FROM ledger_counter")).scalar_one()
        redacted_digests = conn.execute(
            sa.text("SELECT count(*) FROM ledger_events WHERE redacted AND address_digest IS NOT NULL")
        ).scalar_one()
    assert result.ok, result.findings
    assert (result.events, result.redacted, stored) == (len(rows), sum(bool(r["redacted"]) for r in rows), 0)
    assert head == result.last_hash
    assert redacted_digests == 0  # what was erased before the chain has no digest to keep

    # New events chain onto the migrated ones.
    with empty_db.write() as conn:
        conn.execute(
            sa.insert(t.subscription_types).values(
                id=1, business_unit_id=0, channel="EMAIL", name="News", description="", is_active=True,
                position=0, translations={}, created_at=t.now(), updated_at=t.now(),
            )
        )  # fmt: skip
    with empty_db.write() as conn:
        account = load_account(conn)
        writer = Writer(empty_db, conn, account, Actor(Source.API, "key"))
        [type_] = load_types(conn, [1]).values()
        writer.change_statuses(
            Channel.EMAIL, [(account.normalize(Channel.EMAIL, "new@example.com"), [(type_, Status.SUBSCRIBED)])]
        )
    with empty_db.read() as conn:
        after = chain.verify_chain(conn)
        prev = conn.execute(
            sa.text("SELECT prev_hash FROM ledger_events WHERE id = :id"), {"id": len(rows) + 1}
        ).scalar_one()
    assert after.ok
    assert after.events == len(rows) + 1
    assert prev == result.last_hash
    # The guard covers the chain's columns too.
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), empty_db.write() as conn:
        conn.execute(sa.text("UPDATE ledger_events SET hash = 'x' WHERE id = 1"))
