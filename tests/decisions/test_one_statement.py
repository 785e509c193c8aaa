"""A single decision as of now is one statement (`decisions.decide_one`): written from the
basis the type's last decision read, and made again when the basis read with it differs. Each
change below alters what that statement must be — the policy (which state is worth reading),
the phone region (the address's key), an erasure (the keyed hash), the type's state — and the
single decision must follow at once, agreeing with the batch, which reads the basis first."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from assent.domain.model import Channel
from tests.conftest import Catalog


def _decide(client: TestClient, headers: dict[str, str], address: str, type_id: int) -> dict[str, Any]:
    single = client.get(
        "/api/v1/decisions", params={"address": address, "subscription_type_id": type_id}, headers=headers
    )
    batch = client.post(
        "/api/v1/decisions/batch", json={"subscription_type_id": type_id, "addresses": [address]}, headers=headers
    )
    assert single.status_code == 200, single.text
    [expected] = batch.json()["results"]
    assert single.json() == expected
    return dict(single.json())


def test_a_single_decision_follows_every_change_of_its_basis(
    client: TestClient, make: Catalog, admin_headers: dict[str, str]
) -> None:
    news = make.type("News", Channel.EMAIL)
    alice, bob = "alice@example.com", "bob@example.com"
    for _ in range(2):  # the second is written from the first's basis
        assert _decide(client, admin_headers, alice, news)["reasons"] == []

    # data privacy mode: a status nobody gave now stops the mail (other state is worth reading)
    client.patch("/api/v1/settings", json={"data_privacy_mode": True}, headers=admin_headers).raise_for_status()
    assert _decide(client, admin_headers, alice, news)["reasons"] == ["NO_CONSENT"]
    client.post(
        f"/api/v1/subscribers/EMAIL/{alice}/statuses",
        json={
            "changes": [{"subscription_type_id": news, "status": "SUBSCRIBED"}],
            "legal_basis": "CONSENT_WITH_NOTICE",
            "legal_basis_explanation": "Ticked the box at checkout",
            "processing_legal_basis": "CONSENT_WITH_NOTICE",
        },
        headers=admin_headers,
    ).raise_for_status()
    assert _decide(client, admin_headers, alice, news)["reasons"] == []
    client.patch("/api/v1/settings", json={"data_privacy_mode": False}, headers=admin_headers).raise_for_status()
    assert _decide(client, admin_headers, bob, news)["reasons"] == []

    # an erasure: found by the address's keyed hash
    erased = client.post("/api/v1/erasures", json={"channel": "EMAIL", "address": bob}, headers=admin_headers)
    assert erased.status_code == 200, erased.text
    assert _decide(client, admin_headers, bob, news)["reasons"] == ["ERASED"]

    # an archived type
    client.patch(f"/api/v1/subscription-types/{news}", json={"is_active": False}, headers=admin_headers)
    assert "TYPE_INACTIVE" in _decide(client, admin_headers, alice, news)["reasons"]


def test_a_single_decision_reads_a_number_in_the_region_of_the_moment(
    client: TestClient, make: Catalog, admin_headers: dict[str, str]
) -> None:
    texts = make.type("Texts", Channel.SMS)
    national = "070-123 45 67"
    asked = {"address": national, "subscription_type_id": texts}
    refused = client.get("/api/v1/decisions", params=asked, headers=admin_headers)
    assert (refused.status_code, refused.json()["code"]) == (422, "INVALID_ADDRESS")
    client.patch("/api/v1/settings", json={"default_phone_region": "SE"}, headers=admin_headers).raise_for_status()
    assert _decide(client, admin_headers, national, texts)["address"] == "+46701234567"
    client.post(
        "/api/v1/subscribers/SMS/+46701234567/statuses",
        json={"changes": [{"subscription_type_id": texts, "status": "UNSUBSCRIBED"}]},
        headers=admin_headers,
    ).raise_for_status()
    assert _decide(client, admin_headers, national, texts)["reasons"] == ["UNSUBSCRIBED"]
    # in Norway, a national number is read as Norwegian: one with nothing stored
    client.patch("/api/v1/settings", json={"default_phone_region": "NO"}, headers=admin_headers).raise_for_status()
    norwegian = _decide(client, admin_headers, "40 12 34 56", texts)
    assert (norwegian["address"], norwegian["reasons"]) == ("+4740123456", ["NO_CONSENT"])
    wrong = client.get("/api/v1/decisions", params={**asked, "channel": "EMAIL"}, headers=admin_headers)
    assert (wrong.status_code, wrong.json()["code"]) == (422, "WRONG_CHANNEL")
