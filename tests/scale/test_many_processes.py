"""Two `assent serve` and two `assent worker` processes on one PostgreSQL (SPEC §4).

Nothing may depend on which process a request reaches: jobs started through either server
are each done exactly once by whichever worker takes them, an admin session opened on one
server is valid (and ends) on the other, and a rate limit counts across both.
"""

from __future__ import annotations

import collections
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from assent.services.apikeys import create_api_key
from assent.services.users import create_user
from assent.storage import tables as t
from assent.storage.db import Database
from tests.conftest import Catalog

pytestmark = pytest.mark.postgres_only
PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Fleet:
    """Real processes against the test's database; none outlives the test."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.env = {
            **os.environ,
            "ASSENT_DATABASE_URL": database_url,
            "ASSENT_SECRET_KEYS": "fleet-secret",
            "PYTHONUNBUFFERED": "1",
        }
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []
        self.servers: list[str] = []

    def _start(self, name: str, *args: str) -> None:
        with (self.tmp_path / f"{name}.log").open("wb") as log:
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", "from assent.cli.main import cli; cli()", *args],
                    env=self.env,
                    cwd=self.tmp_path,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def serve(self) -> str:
        port = _free_port()
        self._start(f"serve-{port}", "serve", "--port", str(port), "--no-worker")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (self.tmp_path / f"serve-{port}.log").read_text()
            time.sleep(0.1)
        self.servers.append(base)
        return base

    def worker(self) -> None:
        self._start(f"worker-{len(self.processes)}", "worker", "--poll", "0.05", "--chunk-size", "50")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> Iterator[Fleet]:
    started = Fleet(database_url, tmp_path)
    yield started
    started.stop()


def _sign_in(base: str, email: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base}/admin/login")
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert nonce, form.text
    done = session.post(
        f"{base}/admin/login",
        data={"email": email, "password": PASSWORD, "csrf_token": nonce.group(1)},
        allow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return session


@pytest.mark.parametrize("backend", ["postgresql"])  # several processes on one database: PostgreSQL
def test_two_servers_and_two_workers_act_as_one(fleet: Fleet, db: Database, make: Catalog) -> None:
    types = [make.type("Newsletter"), make.type("Offers"), make.type("Events")]
    with db.write() as conn:
        key = create_api_key(conn, "fleet", ["admin"])[1]
        create_user(conn, "owner@example.com", "admin", PASSWORD)
    headers = {"Authorization": f"Bearer {key}"}
    first, second = fleet.serve(), fleet.serve()
    fleet.worker()
    fleet.worker()

    # Bulk jobs started through either server, taken by whichever worker: each done once.
    jobs = []
    for n in range(6):
        base = (first, second)[n % 2]
        addresses = [f"reader{n}-{i}@example.com" for i in range(200)]
        response = requests.post(
            f"{base}/api/v1/bulk-updates",
            json={
                "channel": "EMAIL",
                "addresses": addresses,
                "status": "UNSUBSCRIBED",
                "subscription_type_ids": types,
            },
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        jobs.append(response.json()["id"])
    deadline = time.monotonic() + 120
    while True:
        states = [requests.get(f"{first}/api/v1/jobs/{j}", headers=headers, timeout=10).json() for j in jobs]
        if all(s["status"] == "SUCCEEDED" for s in states):
            break
        assert time.monotonic() < deadline, states
        time.sleep(0.2)
    with db.read() as conn:
        outcomes = conn.execute(
            sa.select(t.job_outcomes.c.job_id, sa.func.count()).group_by(t.job_outcomes.c.job_id)
        ).all()
        events = conn.execute(sa.select(t.ledger_events.c.address_hash, t.ledger_events.c.subscription_type_id)).all()
    assert dict(outcomes) == dict.fromkeys(jobs, 200 * 3)
    per_change = collections.Counter(events)
    assert len(per_change) == 6 * 200 * 3  # every change recorded…
    assert set(per_change.values()) == {1}  # …exactly once

    # An admin session opened on one server holds on the other, and ends on both.
    admin = _sign_in(first, "owner@example.com")
    elsewhere = admin.get(f"{second}/admin/contacts", allow_redirects=False)
    assert elsewhere.status_code == 200, elsewhere.text
    csrf = re.search(r'data-csrf="([^"]+)"', elsewhere.text)
    assert csrf
    out = admin.post(f"{second}/admin/logout", data={"csrf_token": csrf.group(1)}, allow_redirects=False)
    assert out.status_code == 303
    after = admin.get(f"{first}/admin/contacts", allow_redirects=False)
    assert after.status_code == 303
    assert "/admin/login" in after.headers["location"]

    # A rate limit counts across processes: one resubscribe invitation a week.
    alice = "alice@example.com"
    wide = requests.put(f"{first}/api/v1/subscribers/EMAIL/{alice}/unsubscribe-all", headers=headers, timeout=10)
    assert wide.status_code == 200, wide.text
    invited = requests.post(f"{first}/api/v1/subscribers/EMAIL/{alice}/resubscribe-email", headers=headers, timeout=10)
    assert invited.status_code == 202, invited.text
    again = requests.post(f"{second}/api/v1/subscribers/EMAIL/{alice}/resubscribe-email", headers=headers, timeout=10)
    assert again.status_code == 429, again.text
    assert int(again.headers["Retry-After"]) > 0
