"""`GET /api/v1/decisions` and `POST /api/v1/decisions/batch` (R11, R12)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Catalog


def test_it_decides_a_batch_in_order_with_reasons(client: TestClient, make: Catalog, write_headers: dict[str, str]) -> None:
    newsletter = make.type()
    client.post(
        "/api/v1/subscribers/EMAIL/bob@example.com/statuses",
        json={"changes": [{"subscription_type_id": newsletter, "status": "UNSUBSCRIBED"}]},
        headers=write_headers,
    )
    addresses = ["Alice@Example.COM", "not an address", "BOB@example.com"]
    response = client.post(
        "/api/v1/decisions/batch", json={"subscription_type_id": newsletter, "addresses": addresses}, headers=write_headers
    )
    assert response.status_code == 200, response.text
    expected = [
        {"address": "Alice@example.com", "allowed": True, "reasons": []},
        {"address": "not an address", "allowed": False, "reasons": ["INVALID_ADDRESS"]},
        {"address": "BOB@example.com", "allowed": False, "reasons": ["UNSUBSCRIBED"]},
    ]
    common = {"channel": "EMAIL", "subscription_type_id": newsletter}
    assert response.json() == {"results": [{**item, **common} for item in expected]}
    single = client.get(
        "/api/v1/decisions", params={"address": "bob@EXAMPLE.com", "subscription_type_id": newsletter}, headers=write_headers
    )
    assert single.json() == {"address": "bob@example.com", "allowed": False, "reasons": ["UNSUBSCRIBED"], **common}


def test_it_refuses_a_batch_over_ten_thousand(client: TestClient, make: Catalog, read_headers: dict[str, str]) -> None:
    newsletter = make.type()
    addresses = [f"person{n}@example.com" for n in range(10_001)]
    response = client.post(
        "/api/v1/decisions/batch", json={"subscription_type_id": newsletter, "addresses": addresses}, headers=read_headers
    )
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("BATCH_TOO_LARGE", "addresses")
    accepted = client.post(
        "/api/v1/decisions/batch",
        json={"subscription_type_id": newsletter, "addresses": addresses[:10_000]},
        headers=read_headers,
    )
    assert len(accepted.json()["results"]) == 10_000


def test_it_reflects_a_change_at_once(client: TestClient, make: Catalog, write_headers: dict[str, str]) -> None:
    newsletter = make.type()
    alice = "alice@example.com"

    def allowed() -> tuple[bool, bool, str]:
        one = client.get(
            "/api/v1/decisions", params={"address": alice, "subscription_type_id": newsletter}, headers=write_headers
        ).json()
        batch = client.post(
            "/api/v1/decisions/batch", json={"subscription_type_id": newsletter, "addresses": [alice]}, headers=write_headers
        ).json()["results"][0]
        stream = client.post(
            "/api/v1/audiences/filter",
            params={"subscription_type_id": newsletter},
            content=alice,
            headers={**write_headers, "Content-Type": "text/csv"},
        ).text
        return one["allowed"], batch["allowed"], stream

    assert allowed() == (True, True, "address\nalice@example.com\n")
    client.put(f"/api/v1/subscribers/EMAIL/{alice}/unsubscribe-all", headers=write_headers)
    assert allowed() == (False, False, "address\n")
    removed = client.request(
        "DELETE",
        f"/api/v1/subscribers/EMAIL/{alice}/unsubscribe-all",
        json={"legal_basis_explanation": "She asked us on the phone"},
        headers=write_headers,
    )
    assert removed.json()["outcome"] == "CHANGED"
    assert allowed() == (True, True, "address\nalice@example.com\n")
