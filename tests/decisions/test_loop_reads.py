"""On PostgreSQL a single decision is read from the event loop (`storage/loop_reads.py`), on
connections of its own that show in `pg_stat_activity` as `assent-loop-reads`. What a user
observes: the decision follows every write at once (R12), a connection that PostgreSQL drops
costs no request, and with a replica configured the replica rules apply (the loop is not
used: `tests/scale/test_replicas.py` runs the decisions through a real standby)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assent.domain.model import Channel
from assent.storage.db import Database
from assent.storage.loop_reads import APPLICATION_NAME
from tests.conftest import Catalog

pytestmark = pytest.mark.postgres_only

ALICE = "alice@example.com"


def _loop_backends(db: Database) -> list[int]:
    with db.read() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": APPLICATION_NAME},
            ).scalars()
        )


def _reasons(client: TestClient, headers: dict[str, str], type_id: int) -> list[str]:
    response = client.get(
        "/api/v1/decisions", params={"address": ALICE, "subscription_type_id": type_id}, headers=headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["reasons"])


@pytest.mark.parametrize("backend", ["postgresql"])
def test_decisions_read_from_the_loop_follow_writes_and_survive_a_dropped_connection(
    client: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str]
) -> None:
    news, offers = make.type("News", Channel.EMAIL), make.type("Offers", Channel.EMAIL)
    for type_id in (news, offers):
        assert _reasons(client, admin_headers, type_id) == []  # a type's first decision: the basis first
    assert _loop_backends(db) == []
    for type_id in (news, offers):
        assert _reasons(client, admin_headers, type_id) == []  # then one statement, from the loop
    assert len(_loop_backends(db)) == 1

    _unsubscribe(client, admin_headers, news)
    assert _reasons(client, admin_headers, news) == ["UNSUBSCRIBED"]

    with db.read() as conn:  # PostgreSQL drops the loop's connection (a restart, a pooler, an operator)
        for pid in _loop_backends(db):
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    _unsubscribe(client, admin_headers, offers)
    assert _reasons(client, admin_headers, offers) == ["UNSUBSCRIBED"]  # answered the usual way meanwhile
    assert _reasons(client, admin_headers, news) == ["UNSUBSCRIBED"]
    assert len(_loop_backends(db)) == 1  # and from a new connection of its own


def _unsubscribe(client: TestClient, headers: dict[str, str], type_id: int) -> None:
    client.post(
        f"/api/v1/subscribers/EMAIL/{ALICE}/statuses",
        json={"changes": [{"subscription_type_id": type_id, "status": "UNSUBSCRIBED"}]},
        headers=headers,
    ).raise_for_status()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_replica_configured_keeps_decisions_off_the_loop(database_url: str) -> None:
    with_replica = Database(database_url, read_urls=[database_url])
    try:
        assert with_replica.loop_reads() is None
    finally:
        with_replica.dispose()
    alone = Database(database_url)
    try:
        assert alone.loop_reads() is not None
        listened: list[str] = []
        sa.event.listen(alone.engine, "before_cursor_execute", lambda *args: listened.append(args[2]))
        assert alone.loop_reads() is None  # whoever listens to the statements hears every one
    finally:
        alone.dispose()
