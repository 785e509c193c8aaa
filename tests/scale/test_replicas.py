"""Reads from a real streaming replica, never stale for a client that wrote (R12).

A throwaway PostgreSQL primary and hot standby (tests/replica.py). Pausing WAL replay on the
standby (`pg_wal_replay_pause()`) makes it stale on purpose: a client that sends back its
write's `Assent-Consistency` must still see the write; one that does not is served by the
replica only within the lag bound; a stopped replica fails no request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from assent.app import create_app
from assent.config import Settings
from assent.services import catalog
from assent.services.apikeys import create_api_key
from assent.storage.db import Database
from assent.storage.migrate import migrate
from tests.replica import Pair, replica_pair

pytestmark = pytest.mark.postgres_only

ALICE = "alice@example.com"


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    with replica_pair() as started:
        with psycopg.connect(started.dsn(started.primary_port), autocommit=True) as conn:
            conn.execute("CREATE DATABASE assent")
        yield started


@dataclass
class World:
    pair: Pair
    db: Database
    client: TestClient
    headers: dict[str, str]
    newsletter: int

    def standby(self, sql: str) -> Any:
        with psycopg.connect(self.pair.dsn(self.pair.standby_port, "assent"), autocommit=True) as conn:
            return conn.execute(sql).fetchone()  # type: ignore[arg-type]

    def pause_replay(self) -> None:
        self.standby("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.standby("SELECT pg_wal_replay_resume()")

    def unsubscribe(self, address: str = ALICE) -> int:
        response = self.client.post(
            f"/api/v1/subscribers/EMAIL/{address}/statuses",
            json={"changes": [{"subscription_type_id": self.newsletter, "status": "UNSUBSCRIBED"}]},
            headers=self.headers,
        )
        assert response.status_code == 200, response.text
        return int(response.headers["Assent-Consistency"])

    def allowed(self, position: int | None = None, address: str = ALICE) -> bool:
        headers = dict(self.headers)
        if position is not None:
            headers["Assent-Consistency"] = str(position)
        response = self.client.get(
            "/api/v1/decisions", params={"address": address, "subscription_type_id": self.newsletter}, headers=headers
        )
        assert response.status_code == 200, response.text
        return bool(response.json()["allowed"])


@pytest.fixture
def world(pair: Pair) -> Iterator[World]:
    with psycopg.connect(pair.dsn(pair.primary_port), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS assent WITH (FORCE)")
        conn.execute("CREATE DATABASE assent")
    primary_url, standby_url = pair.url(pair.primary_port, "assent"), pair.url(pair.standby_port, "assent")
    migrator = Database(primary_url)
    migrate(migrator)
    migrator.dispose()
    db = Database(primary_url, read_urls=[standby_url], max_replica_lag_ms=500)
    with db.write() as conn:
        key = create_api_key(conn, "replica test", ["admin"])[1]
        newsletter = int(
            catalog.create_subscription_type(conn, {"name": "Newsletter", "channel": "EMAIL", "business_unit_id": 0})[
                "id"
            ]
        )
    pair.wait_replayed("assent")
    settings = Settings(database_url=primary_url, secret_keys=("k",), base_url="http://testserver", run_worker=False)
    with TestClient(create_app(settings, db)) as client:
        found = World(pair, db, client, {"Authorization": f"Bearer {key}"}, newsletter)
        try:
            yield found
        finally:
            found.resume_replay()
            db.dispose()


def test_it_sends_its_position_and_reads_its_own_write_while_replay_is_paused(world: World) -> None:
    assert world.allowed()
    world.pause_replay()
    position = world.unsubscribe()
    # The replica really is stale: it has not replayed the opt-out.
    assert world.standby("SELECT count(*) FROM subscription_statuses")[0] == 0
    assert world.allowed(position) is False  # served by the primary, never stale
    world.resume_replay()
    world.pair.wait_replayed("assent")
    assert world.allowed(position) is False  # and by the replica once it has caught up


def test_it_serves_reads_from_the_replica_within_the_lag_bound(world: World) -> None:
    world.pause_replay()
    position = world.unsubscribe()
    world.db.max_replica_lag_ms = 3_600_000
    # Without a position, an hour of lag is within the bound: the (stale) replica answers.
    assert world.allowed() is True
    world.db.max_replica_lag_ms = 200
    time.sleep(0.4)
    # Now the replica is further behind than the bound: the primary answers.
    assert world.allowed() is False
    # The events feed and the export follow the same rule.
    world.db.max_replica_lag_ms = 3_600_000
    stale = world.client.get("/api/v1/events", headers=world.headers).json()["results"]
    fresh = world.client.get("/api/v1/events", params={"min_event_id": position}, headers=world.headers).json()[
        "results"
    ]
    assert [e["id"] for e in stale] == []
    assert [e["id"] for e in fresh] == [position]
    export = world.client.get(
        "/api/v1/exports/suppressions", headers={**world.headers, "Assent-Consistency": str(position)}
    )
    assert ALICE in export.text


def test_a_stopped_replica_fails_no_request(world: World) -> None:
    world.pair.stop_standby()
    try:
        position = world.unsubscribe()
        assert world.allowed() is False
        assert world.allowed(position) is False
        ready = world.client.get("/readyz")
        assert ready.status_code == 200
        [replica] = ready.json()["replicas"]
        assert replica["status"] == "unavailable"
    finally:
        world.pair.start_standby()
    world.pair.wait_replayed("assent")
    ready = world.client.get("/readyz").json()
    assert ready["replicas"][0]["status"] == "ok"


def test_a_malformed_position_is_a_422_naming_the_field(world: World) -> None:
    response = world.client.get(
        "/api/v1/decisions",
        params={"address": ALICE, "subscription_type_id": world.newsletter},
        headers={**world.headers, "Assent-Consistency": "soon"},
    )
    assert response.status_code == 422
    assert response.json()["field"] == "assent-consistency"
