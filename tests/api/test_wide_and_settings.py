"""Wide opt-outs (R7, R8), data privacy mode (R5, R6, R11) and decisions through the API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from assent.domain.model import Channel
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows

BOB = "bob@example.com"
FULL = {
    "legal_basis": "LEGITIMATE_INTEREST_CLIENT",
    "legal_basis_explanation": "Existing customer since 2024",
    "processing_legal_basis": "PERFORMANCE_OF_CONTRACT",
}


def statuses(client: TestClient, headers: dict[str, str], type_id: int, status: str, **extra: Any) -> Any:
    body = {"changes": [{"subscription_type_id": type_id, "status": status}], **extra}
    return client.post(f"/api/v1/subscribers/EMAIL/{BOB}/statuses", json=body, headers=headers)


def decision(client: TestClient, headers: dict[str, str], type_id: int, address: str = BOB) -> Any:
    return client.get(
        "/api/v1/decisions", params={"address": address, "subscription_type_id": type_id}, headers=headers
    ).json()


def test_it_blocks_opt_ins_while_a_wide_opt_out_stands(
    client: TestClient, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    statuses(client, write_headers, newsletter, "SUBSCRIBED")
    put = client.put(
        f"/api/v1/subscribers/EMAIL/{BOB}/unsubscribe-all", params={"business_unit_id": 0}, headers=write_headers
    )
    assert put.json()["outcome"] == "CHANGED"
    assert decision(client, write_headers, newsletter)["reasons"] == ["UNSUBSCRIBED_FROM_ALL"]
    # R7: the type's own status is kept while the wide opt-out stands
    subscriber = client.get(f"/api/v1/subscribers/EMAIL/{BOB}", headers=write_headers).json()
    assert subscriber["statuses"][0]["status"] == "SUBSCRIBED"
    assert subscriber["properties"]["Unsubscribed from all email"] is True
    assert subscriber["wide_opt_outs"][0]["set_by"] == "USER"


def test_it_lets_a_user_lift_only_a_user_set_wide_opt_out(
    client: TestClient, make: Catalog, write_headers: dict[str, str]
) -> None:
    make.type()
    url = f"/api/v1/subscribers/EMAIL/{BOB}/unsubscribe-all"
    client.put(url, headers=write_headers)
    unexplained = client.request("DELETE", url, headers=write_headers)
    assert (unexplained.status_code, unexplained.json()["code"]) == (422, "EXPLANATION_REQUIRED")
    lifted = client.request(
        "DELETE", url, headers=write_headers, json={"legal_basis_explanation": "Entered by mistake"}
    )
    assert lifted.json()["outcome"] == "CHANGED"
    assert lifted.json()["unsubscribed_from_all"] is False


def test_it_refuses_to_lift_a_wide_opt_out_the_contact_set(
    client: TestClient, make: Catalog, write_headers: dict[str, str], db: Database
) -> None:
    from assent.domain.model import Actor, Evidence, Source
    from assent.services.changes import Writer
    from assent.services.state import load_account

    make.type()
    with db.write() as conn:
        account = load_account(conn)
        Writer(db, conn, account, Actor(Source.PREFERENCE_CENTER), Evidence()).set_wide_opt_out(
            Channel.EMAIL, [account.normalize(Channel.EMAIL, BOB)], 0
        )
    refused = client.request(
        "DELETE",
        f"/api/v1/subscribers/EMAIL/{BOB}/unsubscribe-all",
        headers=write_headers,
        json={"legal_basis_explanation": "They called"},
    ).json()
    assert (refused["outcome"], refused["reason"]) == ("REFUSED", "WIDE_OPT_OUT_SET_BY_CONTACT")
    assert refused["unsubscribed_from_all"] is True


def test_it_does_not_accept_contact_only_sources_from_api_keys(
    client: TestClient, make: Catalog, write_headers: dict[str, str], db: Database
) -> None:
    newsletter = make.type()
    response = statuses(client, write_headers, newsletter, "SUBSCRIBED", source="PREFERENCE_CENTER")
    assert response.status_code == 422
    assert response.json()["field"] == "source"
    assert count_rows(db, "ledger_events") == 0


def test_data_privacy_mode_changes_what_is_needed_and_what_is_sendable(
    client: TestClient, make: Catalog, admin_headers: dict[str, str], db: Database
) -> None:
    newsletter = make.type()
    assert decision(client, admin_headers, newsletter)["allowed"] is True  # NOT_SPECIFIED, DPM off
    patched = client.patch("/api/v1/settings", json={"data_privacy_mode": True}, headers=admin_headers)
    assert patched.json()["data_privacy_mode"] is True
    assert decision(client, admin_headers, newsletter)["reasons"] == ["NO_CONSENT"]
    missing = statuses(client, admin_headers, newsletter, "SUBSCRIBED")
    assert (missing.status_code, missing.json()["field"]) == (422, "legal_basis")
    assert count_rows(db, "ledger_events") == 0
    ok = statuses(client, admin_headers, newsletter, "SUBSCRIBED", **FULL)
    assert ok.json()["results"][0]["outcome"] == "CHANGED"
    assert decision(client, admin_headers, newsletter)["allowed"] is True
    subscriber = client.get(f"/api/v1/subscribers/EMAIL/{BOB}", headers=admin_headers).json()
    assert subscriber["processing_legal_basis"] == "PERFORMANCE_OF_CONTRACT"
    assert subscriber["statuses"][0]["legal_basis"] == "LEGITIMATE_INTEREST_CLIENT"


def test_a_form_opt_in_needs_the_notice_and_waits_for_confirmation_with_double_opt_in(
    client: TestClient, make: Catalog, admin_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    client.patch("/api/v1/settings", json={"double_opt_in": True}, headers=admin_headers)
    no_notice = statuses(client, admin_headers, newsletter, "SUBSCRIBED", source="FORM")
    assert (no_notice.status_code, no_notice.json()["code"]) == (422, "NOTICE_REQUIRED")
    statuses(
        client,
        admin_headers,
        newsletter,
        "SUBSCRIBED",
        source="FORM",
        notice_text="Yes, send me the newsletter",
        notice_version="v3",
    )
    assert decision(client, admin_headers, newsletter)["reasons"] == ["UNCONFIRMED"]
    subscriber = client.get(f"/api/v1/subscribers/EMAIL/{BOB}", headers=admin_headers).json()
    assert (subscriber["confirmed"], subscriber["statuses"][0]["legal_basis"]) == (False, "CONSENT_WITH_NOTICE")
    client.post(f"/api/v1/subscribers/EMAIL/{BOB}/confirmation", headers=admin_headers)
    assert decision(client, admin_headers, newsletter)["allowed"] is True


def test_sms_needs_consent_and_phone_numbers_are_normalized(
    client: TestClient, make: Catalog, admin_headers: dict[str, str]
) -> None:
    sms = make.type("SMS offers", Channel.SMS)
    client.patch("/api/v1/settings", json={"default_phone_region": "SE"}, headers=admin_headers)
    blocked = client.get(
        "/api/v1/decisions", params={"address": "070-123 45 67", "subscription_type_id": sms}, headers=admin_headers
    ).json()
    assert (blocked["address"], blocked["reasons"]) == ("+46701234567", ["NO_CONSENT"])
    bad = client.post(
        "/api/v1/subscribers/SMS/12/statuses",
        json={"changes": [{"subscription_type_id": sms, "status": "SUBSCRIBED"}]},
        headers=admin_headers,
    )
    assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (422, "INVALID_ADDRESS", "address")


def test_an_undeliverable_address_is_blocked_until_a_user_explains(
    client: TestClient, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    url = f"/api/v1/subscribers/EMAIL/{BOB}/undeliverable"
    client.put(url, json={"legal_basis_explanation": "550 5.1.1 user unknown"}, headers=write_headers)
    assert decision(client, write_headers, newsletter)["reasons"] == ["UNDELIVERABLE"]
    client.request(
        "DELETE", url, json={"legal_basis_explanation": "Mailbox fixed, confirmed by phone"}, headers=write_headers
    )
    assert decision(client, write_headers, newsletter)["allowed"] is True


def test_scopes_are_enforced(
    client: TestClient, make: Catalog, read_headers: dict[str, str], write_headers: dict[str, str], db: Database
) -> None:
    newsletter = make.type()
    assert statuses(client, read_headers, newsletter, "SUBSCRIBED").status_code == 403
    assert client.patch("/api/v1/settings", json={"data_privacy_mode": True}, headers=write_headers).status_code == 403
    assert client.get("/api/v1/settings").status_code == 401
    assert client.get("/api/v1/settings", headers={"Authorization": "Bearer assent_nope_nope"}).status_code == 401
    assert count_rows(db, "ledger_events") == 0


def test_the_event_feed_follows_commit_order(client: TestClient, make: Catalog, write_headers: dict[str, str]) -> None:
    newsletter, offers = make.type(), make.type("Offers")
    statuses(client, write_headers, newsletter, "SUBSCRIBED")
    statuses(client, write_headers, offers, "UNSUBSCRIBED")
    first = client.get("/api/v1/events", params={"limit": 1}, headers=write_headers).json()
    second = client.get("/api/v1/events", params={"after": first["next"]}, headers=write_headers).json()
    assert [e["id"] for e in first["results"] + second["results"]] == [1, 2]
    assert client.get("/api/v1/events", params={"after": second["next"]}, headers=write_headers).json()["results"] == []


def test_it_refuses_a_second_type_of_the_same_name_in_one_unit_and_channel(
    client: TestClient, make: Catalog, admin_headers: dict[str, str]
) -> None:
    make.type("Newsletter")
    body = {"name": "newsletter", "channel": "EMAIL", "business_unit_id": 0}
    clash = client.post("/api/v1/subscription-types", json=body, headers=admin_headers)
    assert (clash.status_code, clash.json()["code"], clash.json()["field"]) == (422, "DUPLICATE_NAME", "name")
    assert client.post("/api/v1/subscription-types", json={**body, "channel": "SMS"}, headers=admin_headers).status_code == 201
    forbidden = client.post("/api/v1/subscription-types", json=body, headers={"Authorization": "Bearer nope"})
    assert forbidden.json()["title"] == "Unauthorized"
