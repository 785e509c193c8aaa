"""Order per address under concurrent writes, two dispatchers sharing one PostgreSQL, and a
worker process killed mid-batch (SIGKILL) — with a real receiver on loopback."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assent.storage import tables as t
from assent.storage.db import Database
from tests.conftest import Catalog
from tests.webhooks.conftest import Receiver, create_hook, dispatcher, feed, set_status


def write_batch(client: TestClient, headers: dict[str, str], addresses: list[str], type_ids: list[int], status: str) -> None:
    response = client.post(
        "/api/v1/statuses/batch",
        json={
            "channel": "EMAIL",
            "items": [
                {"address": a, "changes": [{"subscription_type_id": i, "status": status} for i in type_ids]}
                for a in addresses
            ],
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text


def wait_until(done: collections.abc.Callable[[], bool], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_it_keeps_each_address_in_ledger_order_under_concurrent_writes(
    hooks: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    types = [make.type(f"Type {n}") for n in range(3)]
    create_hook(hooks, admin_headers, receiver.url())
    receiver.script.extend([500, 200, 500, 500] * 10)  # some first attempts fail: retries race the writers
    stop = threading.Event()
    worker = dispatcher(db, retry_base_seconds=0.05, per_endpoint=8)
    running = threading.Thread(target=worker.run, args=(stop,))
    running.start()

    def writer(n: int) -> None:
        for round_ in range(8):
            for type_id in types:
                status = "SUBSCRIBED" if round_ % 2 == 0 else "UNSUBSCRIBED"
                set_status(hooks, admin_headers, f"person{(n + round_) % 5}@example.com", type_id, status)

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    events = feed(hooks, admin_headers)
    try:
        wait_until(lambda: len({d.id for d in receiver.deliveries}) >= len(events))
        time.sleep(0.3)
    finally:
        stop.set()
        running.join()

    by_address: dict[str, list[int]] = collections.defaultdict(list)
    for delivery in receiver.deliveries:
        data = delivery.payload["data"]
        if not by_address[data["address"]] or by_address[data["address"]][-1] != data["id"]:
            by_address[data["address"]].append(data["id"])  # a retry repeats the same id
    expected: dict[str, list[int]] = collections.defaultdict(list)
    for event in events:
        expected[event["address"]].append(event["id"])
    assert dict(by_address) == dict(expected)  # every event, each address strictly in ledger order
    assert worker.failed > 0  # the retries did happen


@pytest.mark.parametrize("backend", ["postgresql"])  # several workers share one PostgreSQL
def test_two_dispatchers_on_postgresql_deliver_each_event_once(
    hooks: TestClient, database_url: str, make: Catalog, admin_headers: dict[str, str],
    receiver: Receiver,
) -> None:
    types = [make.type(f"Type {n}") for n in range(2)]
    create_hook(hooks, admin_headers, receiver.url("/a"))
    create_hook(hooks, admin_headers, receiver.url("/b"), event_types=["subscription.changed"])
    write_batch(hooks, admin_headers, [f"r{i}@example.com" for i in range(150)], types, "SUBSCRIBED")
    events = feed(hooks, admin_headers)
    assert len(events) == 300
    # Each delivery takes a moment, so that the drain outlasts the start of both threads
    # however loaded the machine is: one dispatcher alone could otherwise finish the lot
    # before the other's first look, and the test would prove nothing about two.
    receiver.delay = 0.05
    databases = [Database(database_url), Database(database_url)]
    workers = [dispatcher(databases[n], per_endpoint=6, fan_out_size=40) for n in range(2)]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(receiver.deliveries) >= 600)
        time.sleep(0.5)  # anything delivered twice would arrive now
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    for database in databases:
        database.dispose()
    received = collections.Counter((d.path, d.id) for d in receiver.deliveries)
    assert set(received.values()) == {1}  # nobody got an event twice
    assert set(received) == {(path, str(e["id"])) for e in events for path in ("/a", "/b")}
    assert all(w.delivered > 0 for w in workers), [w.delivered for w in workers]


def test_a_killed_worker_loses_nothing(
    hooks: TestClient, db: Database, database_url: str, make: Catalog, admin_headers: dict[str, str],
    receiver: Receiver, tmp_path: Path,
) -> None:
    types = [make.type(f"Type {n}") for n in range(2)]
    create_hook(hooks, admin_headers, receiver.url())
    write_batch(hooks, admin_headers, [f"k{i}@example.com" for i in range(200)], types, "SUBSCRIBED")
    events = {str(e["id"]) for e in feed(hooks, admin_headers)}
    receiver.delay = 0.02  # slow enough to kill the worker mid-batch
    env = {
        **os.environ,
        "ASSENT_DATABASE_URL": database_url,
        "ASSENT_SECRET_KEYS": "test-secret-key",
        "ASSENT_WEBHOOK_ALLOW_PRIVATE": "true",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-c", "from assent.cli.main import cli; cli()", "worker", "--poll", "0.1",
               "--delivery-lease", "2"]
    started: list[subprocess.Popen[bytes]] = []
    try:
        for n in range(2):
            with (tmp_path / f"worker-{n}.log").open("wb") as log:
                started.append(subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT))
            if n == 0:
                wait_until(lambda: len(receiver.deliveries) >= 40)
                started[0].send_signal(signal.SIGKILL)  # mid-batch: leased rows, attempts in flight
                started[0].wait()
                assert len(set(receiver.ids())) < len(events), "everything went out before the kill: make it bigger"
        wait_until(lambda: set(receiver.ids()) >= events)
        started[1].send_signal(signal.SIGTERM)
        assert started[1].wait(timeout=30) == 0
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait()
    d = t.webhook_deliveries
    with db.read() as conn:
        states = collections.Counter(conn.execute(sa.select(d.c.state)).scalars())
    assert states == {"DELIVERED": len(events)}
    assert set(receiver.ids()) == events
