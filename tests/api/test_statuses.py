"""Changing statuses through the native API (R3–R10) on both backends."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from assent.domain.model import Channel
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows

ALICE = "Alice.Smith+news@Example.COM"


def change(
    client: TestClient, headers: dict[str, str], address: str, body: dict[str, Any], channel: str = "EMAIL"
) -> Any:
    return client.post(f"/api/v1/subscribers/{channel}/{address}/statuses", json=body, headers=headers)


def test_it_subscribes_and_records_the_event(client: TestClient, make: Catalog, write_headers: dict[str, str]) -> None:
    newsletter = make.type("Newsletter")
    response = change(
        client, write_headers, ALICE, {"changes": [{"subscription_type_id": newsletter, "status": "SUBSCRIBED"}]}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "address": "Alice.Smith+news@example.com",
        "channel": "EMAIL",
        "results": [
            {
                "subscription_type_id": newsletter,
                "old_status": "NOT_SPECIFIED",
                "new_status": "SUBSCRIBED",
                "outcome": "CHANGED",
                "reason": None,
            }
        ],
    }
    subscriber = client.get("/api/v1/subscribers/EMAIL/alice.smith+news@example.com", headers=write_headers).json()
    assert [s["status"] for s in subscriber["statuses"]] == ["SUBSCRIBED"]
    history = client.get(f"/api/v1/subscribers/EMAIL/{ALICE}/history", headers=write_headers).json()
    [event] = history["results"]
    assert (event["old_status"], event["new_status"], event["source"], event["actor_kind"]) == (
        "NOT_SPECIFIED",
        "SUBSCRIBED",
        "API",
        "USER",
    )


def test_it_reports_unchanged_and_writes_no_event(
    client: TestClient, make: Catalog, write_headers: dict[str, str], db: Database
) -> None:
    newsletter = make.type()
    body = {"changes": [{"subscription_type_id": newsletter, "status": "UNSUBSCRIBED"}]}
    change(client, write_headers, ALICE, body)
    again = change(client, write_headers, ALICE, body).json()
    assert again["results"][0]["outcome"] == "UNCHANGED"
    assert count_rows(db, "ledger_events") == 1


def test_it_refuses_workflow_resubscribe(client: TestClient, make: Catalog, write_headers: dict[str, str]) -> None:
    newsletter = make.type()
    change(client, write_headers, ALICE, {"changes": [{"subscription_type_id": newsletter, "status": "UNSUBSCRIBED"}]})
    refused = change(
        client,
        write_headers,
        ALICE,
        {"source": "WORKFLOW", "changes": [{"subscription_type_id": newsletter, "status": "NOT_SPECIFIED"}]},
    ).json()
    assert refused["results"][0]["outcome"] == "REFUSED"
    assert refused["results"][0]["reason"] == "WORKFLOW_CANNOT_RESUBSCRIBE"


def test_it_requires_an_explanation_to_resubscribe_and_writes_nothing(
    client: TestClient, make: Catalog, write_headers: dict[str, str], db: Database
) -> None:
    newsletter = make.type()
    change(client, write_headers, ALICE, {"changes": [{"subscription_type_id": newsletter, "status": "UNSUBSCRIBED"}]})
    response = change(
        client, write_headers, ALICE, {"changes": [{"subscription_type_id": newsletter, "status": "SUBSCRIBED"}]}
    )
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert (problem["code"], problem["field"]) == ("EXPLANATION_REQUIRED", "legal_basis_explanation")
    assert count_rows(db, "ledger_events") == 1


def test_it_rejects_a_malformed_address_naming_the_field(
    client: TestClient, make: Catalog, write_headers: dict[str, str], db: Database
) -> None:
    newsletter = make.type()
    response = change(
        client,
        write_headers,
        "not-an-email",
        {"changes": [{"subscription_type_id": newsletter, "status": "SUBSCRIBED"}]},
    )
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("INVALID_ADDRESS", "address")
    assert count_rows(db, "addresses") == 0


def test_it_rejects_a_type_of_another_channel(
    client: TestClient, make: Catalog, write_headers: dict[str, str], db: Database
) -> None:
    sms = make.type("SMS promos", Channel.SMS)
    response = change(
        client, write_headers, ALICE, {"changes": [{"subscription_type_id": sms, "status": "SUBSCRIBED"}]}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "field": "changes[0].subscription_type_id",
        "reason": f"subscription type {sms} is a SMS type, not EMAIL",
        "code": "WRONG_CHANNEL",
    }
    assert count_rows(db, "ledger_events") == 0


def test_it_honours_idempotency_keys(
    client: TestClient, make: Catalog, write_headers: dict[str, str], db: Database
) -> None:
    newsletter = make.type()
    headers = {**write_headers, "Idempotency-Key": "req-1"}
    body = {"changes": [{"subscription_type_id": newsletter, "status": "SUBSCRIBED"}]}
    first = change(client, headers, ALICE, body)
    second = change(client, headers, ALICE, body)
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert count_rows(db, "ledger_events") == 1
    other = change(
        client, headers, ALICE, {"changes": [{"subscription_type_id": newsletter, "status": "UNSUBSCRIBED"}]}
    )
    assert (other.status_code, other.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")


def test_it_changes_many_addresses_in_one_batch_and_reports_each(
    client: TestClient, make: Catalog, write_headers: dict[str, str], db: Database
) -> None:
    newsletter, offers = make.type("Newsletter"), make.type("Offers")
    change(
        client,
        write_headers,
        "bob@example.com",
        {"changes": [{"subscription_type_id": offers, "status": "UNSUBSCRIBED"}]},
    )
    body = {
        "channel": "EMAIL",
        "source": "WORKFLOW",
        "items": [
            {"address": ALICE, "changes": [{"subscription_type_id": newsletter, "status": "SUBSCRIBED"}]},
            {"address": "nope", "changes": [{"subscription_type_id": newsletter, "status": "SUBSCRIBED"}]},
            {"address": "bob@example.com", "changes": [{"subscription_type_id": offers, "status": "SUBSCRIBED"}]},
        ],
    }
    answer = client.post("/api/v1/statuses/batch", json=body, headers=write_headers).json()
    alice, nope, bob = answer["results"]
    assert (alice["address"], alice["results"][0]["outcome"]) == ("Alice.Smith+news@example.com", "CHANGED")
    assert nope["error"]["code"] == "INVALID_ADDRESS"
    assert (bob["results"][0]["outcome"], bob["results"][0]["reason"]) == ("REFUSED", "WORKFLOW_CANNOT_RESUBSCRIBE")
    assert count_rows(db, "ledger_events") == 2


def test_a_batch_naming_an_unknown_type_writes_nothing(
    client: TestClient, make: Catalog, write_headers: dict[str, str], db: Database
) -> None:
    newsletter = make.type()
    body = {
        "channel": "EMAIL",
        "items": [
            {"address": ALICE, "changes": [{"subscription_type_id": newsletter, "status": "SUBSCRIBED"}]},
            {"address": "bob@example.com", "changes": [{"subscription_type_id": 999, "status": "SUBSCRIBED"}]},
        ],
    }
    response = client.post("/api/v1/statuses/batch", json=body, headers=write_headers)
    assert (response.status_code, response.json()["field"]) == (422, "items[1].changes[0].subscription_type_id")
    too_many = client.post(
        "/api/v1/statuses/batch", json={**body, "items": body["items"][:1] * 1001}, headers=write_headers
    )
    assert too_many.status_code == 422
    assert count_rows(db, "ledger_events") == 0
