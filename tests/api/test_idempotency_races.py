"""`Idempotency-Key` under concurrent retries: the scheme of `Authorization` is read
case-insensitively (the same parser as authentication), so ten retries sent at once with
`bearer` create one job; the losers of the race get 409 (still running) or the replay, never
a 500 — on PostgreSQL too, where two inserts of one key collide on the primary key."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assent.api.auth import bearer_token
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows

RETRIES = 10


def _race(app: Any, headers: dict[str, str], body: dict[str, Any]) -> list[Any]:
    barrier = threading.Barrier(RETRIES)
    answers: list[Any] = [None] * RETRIES

    def send(index: int) -> None:
        client = TestClient(app, raise_server_exceptions=False)
        barrier.wait()
        answers[index] = client.post("/api/v1/bulk-updates", json=body, headers=headers)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(RETRIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_concurrent_retries_create_one_job_whatever_the_schemes_case(
    app: Any, db: Database, make: Catalog, write_headers: dict[str, str], scheme: str
) -> None:
    newsletter = make.type()
    key = write_headers["Authorization"].split()[1]
    headers = {"Authorization": f"{scheme} {key}", "Idempotency-Key": f"bulk-{scheme}"}
    body = {"channel": "EMAIL", "addresses": ["bob@example.com"], "status": "UNSUBSCRIBED",
            "subscription_type_ids": [newsletter]}
    answers = _race(app, headers, body)
    assert sorted({a.status_code for a in answers}) in ([202], [202, 409]), [a.text for a in answers]
    assert all(a.json()["code"] == "IDEMPOTENCY_KEY_IN_USE" for a in answers if a.status_code == 409)
    assert len({a.json()["id"] for a in answers if a.status_code == 202}) == 1
    assert count_rows(db, "jobs") == 1
    # once the first answer is stored, a retry replays it
    again = TestClient(app).post("/api/v1/bulk-updates", json=body, headers=headers)
    assert (again.status_code, again.headers["idempotent-replayed"]) == (202, "true")
    assert count_rows(db, "jobs") == 1


def test_it_reads_the_bearer_scheme_in_any_case() -> None:
    assert bearer_token("bearer abc") == bearer_token("BEARER  abc ") == bearer_token("Bearer abc") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer") is None
    assert bearer_token(None) is None
