"""Contacts through the native API: create, read, update, delete (R1, R2), search with
keyset pages, and a contact's subscriptions and history (R26) — on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from assent.domain.model import Channel
from assent.services import contact_search
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows

Headers = dict[str, str]


def create(client: TestClient, headers: Headers, **body: Any) -> Any:
    response = client.post("/api/v1/contacts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def change(client: TestClient, headers: Headers, channel: str, address: str, type_id: int, status: str) -> None:
    response = client.post(
        f"/api/v1/subscribers/{channel}/{address}/statuses",
        json={"changes": [{"subscription_type_id": type_id, "status": status}]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["outcome"] == "CHANGED"


def test_it_creates_reads_updates_and_deletes_a_contact(client: TestClient, write_headers: Headers) -> None:
    alice = create(
        client,
        write_headers,
        email="  Alice.Smith+news@Example.COM ",
        phone="+46 70-123 45 67",
        first_name="Alice",
        last_name="Smith",
        properties={"tier": "gold", "visits": 3},
    )
    assert (alice["email"], alice["phone"]) == ("Alice.Smith+news@example.com", "+46701234567")
    assert client.get(f"/api/v1/contacts/{alice['id']}", headers=write_headers).json() == alice

    patched = client.patch(
        f"/api/v1/contacts/{alice['id']}",
        json={"company": "Acme", "phone": None, "properties": {"visits": 4, "tier": None, "city": "Umeå"}},
        headers=write_headers,
    ).json()
    assert (patched["company"], patched["phone"], patched["first_name"]) == ("Acme", None, "Alice")
    assert patched["properties"] == {"visits": 4, "city": "Umeå"}

    assert client.delete(f"/api/v1/contacts/{alice['id']}", headers=write_headers).status_code == 204
    gone = client.get(f"/api/v1/contacts/{alice['id']}", headers=write_headers)
    assert (gone.status_code, gone.json()["code"]) == (404, "NOT_FOUND")
    assert client.delete(f"/api/v1/contacts/{alice['id']}", headers=write_headers).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [({"email": "alice@@example.com"}, "email"), ({"email": "bob@example.com", "phone": "12"}, "phone")],
)
def test_it_rejects_a_bad_address_naming_the_field_and_writes_nothing(
    client: TestClient, write_headers: Headers, db: Database, body: dict[str, str], field: str
) -> None:
    response = client.post("/api/v1/contacts", json=body, headers=write_headers)
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("INVALID_ADDRESS", field)
    assert count_rows(db, "contacts") == 0


def test_it_keeps_an_addresses_state_when_its_contact_is_deleted(
    client: TestClient, make: Catalog, write_headers: Headers
) -> None:
    newsletter = make.type("Newsletter")
    make.type("Offers")
    bob = create(client, write_headers, email="bob@example.com")
    assert bob["subscription_properties"] == {
        "Opted out of email: Newsletter": False,
        "Opted out of email: Offers": False,
        "Unsubscribed from all email": False,
    }
    change(client, write_headers, "EMAIL", "bob@example.com", newsletter, "UNSUBSCRIBED")
    client.put("/api/v1/subscribers/EMAIL/bob@example.com/unsubscribe-all", headers=write_headers)
    client.delete(f"/api/v1/contacts/{bob['id']}", headers=write_headers)

    # R2: the address keeps its state and history without a contact ...
    subscriber = client.get("/api/v1/subscribers/EMAIL/bob@example.com", headers=write_headers).json()
    assert subscriber["statuses"][0]["status"] == "UNSUBSCRIBED"
    assert subscriber["properties"]["Unsubscribed from all email"] is True
    history = client.get("/api/v1/subscribers/EMAIL/bob@example.com/history", headers=write_headers).json()
    assert len(history["results"]) == 2
    # ... and a new contact with the same address sees it again.
    again = create(client, write_headers, email="BOB@example.com", first_name="Robert")
    assert again["subscription_properties"] == {
        "Opted out of email: Newsletter": True,
        "Opted out of email: Offers": False,
        "Unsubscribed from all email": True,
    }
    events = client.get(f"/api/v1/contacts/{again['id']}/history", headers=write_headers).json()["results"]
    assert [e["kind"] for e in events] == ["WIDE_OPT_OUT", "STATUS"]


PEOPLE = [
    {"first_name": "Alice", "last_name": "Smith", "email": "alice.smith@acme.se", "phone": "+46701234501"},
    {"first_name": "Albert", "last_name": "Jones", "email": "bert@example.com"},
    {"first_name": "Carol", "last_name": "Smithers", "email": "carol@ACME.se", "company": "Acme Kids"},
    {"first_name": "Dan", "last_name": "Malik", "email": "dan@mail.example.org", "phone": "+46702345602"},
    {"first_name": "Eve", "last_name": "Alison", "phone": "+14155550123"},
    {"first_name": "Frank", "last_name": "Zed", "email": "frank@example.com"},
    {"first_name": "Åsa", "last_name": "Öberg", "email": "asa@example.se"},
]


@pytest.fixture(params=["through indexes", "in id order"])
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a search runs: driven by a selective criterion's indexes, or walking the
    table in id order (what a criterion matching many contacts uses)."""
    if request.param == "in id order":
        monkeypatch.setattr(contact_search, "SELECTIVE", 0)
    return str(request.param)


def search(client: TestClient, headers: Headers, **params: Any) -> list[str]:
    """Every match, page by page (limit 2), as first names."""
    names: list[str] = []
    cursor = None
    for _ in range(10):
        page = client.get("/api/v1/contacts", params={**params, "limit": 2, "cursor": cursor}, headers=headers)
        assert page.status_code == 200, page.text
        names += [c["first_name"] for c in page.json()["results"]]
        cursor = page.json()["next"]
        if cursor is None:
            return names
    raise AssertionError("the pages never ended")


def test_it_searches_by_the_start_of_names_emails_domains_and_phones(
    client: TestClient, write_headers: Headers, plan: str
) -> None:
    for person in PEOPLE:
        create(client, write_headers, **person)
    assert search(client, write_headers) == [p["first_name"] for p in PEOPLE]
    assert search(client, write_headers, q="al") == ["Alice", "Albert", "Eve"]
    assert search(client, write_headers, q="SMITH") == ["Alice", "Carol"]
    assert search(client, write_headers, q="smith al") == ["Alice"]
    assert search(client, write_headers, q="acme") == ["Alice", "Carol"]  # domain and company
    assert search(client, write_headers, q="@mail.example") == ["Dan"]
    assert search(client, write_headers, q="carol@acme.se") == ["Carol"]
    assert search(client, write_headers, q="+46 70") == ["Alice", "Dan"]
    assert search(client, write_headers, q="+1 415") == ["Eve"]
    assert search(client, write_headers, q="ÖBERG Åsa") == ["Åsa"]  # (SQLite folds only ASCII letters)
    assert search(client, write_headers, q="ith") == []  # the start of a word, not its middle
    assert search(client, write_headers, q="zzz") == []


def test_it_filters_by_the_status_of_a_type_or_a_business_unit(
    client: TestClient, make: Catalog, write_headers: Headers, plan: str
) -> None:
    kids = make.business_unit("Kids")
    newsletter = make.type("Newsletter")
    sms = make.type("SMS offers", Channel.SMS)
    kids_news = make.type("Kids news", business_unit_id=kids)
    for person in PEOPLE:
        create(client, write_headers, **person)
    change(client, write_headers, "EMAIL", "alice.smith@acme.se", newsletter, "SUBSCRIBED")
    change(client, write_headers, "EMAIL", "bert@example.com", newsletter, "UNSUBSCRIBED")
    change(client, write_headers, "SMS", "+46702345602", sms, "SUBSCRIBED")
    change(client, write_headers, "EMAIL", "frank@example.com", kids_news, "UNSUBSCRIBED")

    assert search(client, write_headers, subscription_type_id=newsletter, status="SUBSCRIBED") == ["Alice"]
    assert search(client, write_headers, subscription_type_id=newsletter, status="UNSUBSCRIBED") == ["Albert"]
    assert search(client, write_headers, subscription_type_id=newsletter) == ["Alice", "Albert"]
    # NOT_SPECIFIED: has an email, and nothing opted for the type (Eve has no email)
    assert search(client, write_headers, subscription_type_id=newsletter, status="NOT_SPECIFIED") == [
        "Carol", "Dan", "Frank", "Åsa"]  # fmt: skip
    assert search(client, write_headers, subscription_type_id=sms, status="SUBSCRIBED") == ["Dan"]
    assert search(client, write_headers, business_unit_id=0, status="SUBSCRIBED") == ["Alice", "Dan"]
    assert search(client, write_headers, business_unit_id=kids) == ["Frank"]
    assert search(client, write_headers, status="UNSUBSCRIBED") == ["Albert", "Frank"]
    assert search(client, write_headers, q="a", business_unit_id=0, status="SUBSCRIBED") == ["Alice"]

    wrong = client.get(
        "/api/v1/contacts", params={"subscription_type_id": kids_news, "business_unit_id": 0}, headers=write_headers
    )
    assert (wrong.status_code, wrong.json()["field"]) == (422, "business_unit_id")
    unknown = client.get("/api/v1/contacts", params={"subscription_type_id": 999}, headers=write_headers)
    assert (unknown.status_code, unknown.json()["code"]) == (422, "UNKNOWN_SUBSCRIPTION_TYPE")
    bad_cursor = client.get("/api/v1/contacts", params={"cursor": "abc"}, headers=write_headers)
    assert (bad_cursor.status_code, bad_cursor.json()["field"]) == (422, "cursor")


def test_it_shows_a_contacts_subscriptions_and_history(
    client: TestClient, make: Catalog, write_headers: Headers
) -> None:
    kids = make.business_unit("Kids")
    newsletter = make.type("Newsletter")
    kids_news = make.type("Kids news", business_unit_id=kids)
    sms = make.type("SMS offers", Channel.SMS)
    make.type("WhatsApp offers", Channel.WHATSAPP)
    dan = create(client, write_headers, email="dan@example.com", phone="+46702345602")
    change(client, write_headers, "EMAIL", "dan@example.com", newsletter, "SUBSCRIBED")
    change(client, write_headers, "EMAIL", "dan@example.com", kids_news, "UNSUBSCRIBED")
    change(client, write_headers, "SMS", "+46702345602", sms, "SUBSCRIBED")
    change(client, write_headers, "EMAIL", "someone.else@example.com", newsletter, "SUBSCRIBED")

    subscriptions = client.get(f"/api/v1/contacts/{dan['id']}/subscriptions", headers=write_headers).json()
    assert subscriptions["contact_id"] == dan["id"]
    by_channel = {s["channel"]: s for s in subscriptions["subscribers"]}
    assert list(by_channel) == ["EMAIL", "SMS", "WHATSAPP"]
    assert [(s["subscription_type_id"], s["status"]) for s in by_channel["EMAIL"]["statuses"]] == [
        (newsletter, "SUBSCRIBED"), (kids_news, "UNSUBSCRIBED")]  # fmt: skip
    assert by_channel["SMS"]["statuses"][0]["status"] == "SUBSCRIBED"
    assert by_channel["WHATSAPP"]["statuses"][0]["status"] == "NOT_SPECIFIED"
    only_kids = client.get(
        f"/api/v1/contacts/{dan['id']}/subscriptions", params={"business_unit_id": kids}, headers=write_headers
    ).json()
    assert [len(s["statuses"]) for s in only_kids["subscribers"]] == [1, 0, 0]

    contact = client.get(f"/api/v1/contacts/{dan['id']}", headers=write_headers).json()
    assert contact["subscription_properties"]["Opted out of email: Kids news (Kids)"] is True
    assert contact["subscription_properties"]["Unsubscribed from all email (Kids)"] is False
    assert contact["subscription_properties"]["Opted out of SMS: SMS offers"] is False

    first = client.get(f"/api/v1/contacts/{dan['id']}/history", params={"limit": 2}, headers=write_headers).json()
    rest = client.get(
        f"/api/v1/contacts/{dan['id']}/history", params={"limit": 2, "cursor": first["next"]}, headers=write_headers
    ).json()
    events = first["results"] + rest["results"]
    assert [(e["channel"], e["subscription_type_id"]) for e in events] == [
        ("SMS", sms), ("EMAIL", kids_news), ("EMAIL", newsletter)]  # fmt: skip
    assert rest["next"] is None
    missing = client.get("/api/v1/contacts/999/subscriptions", headers=write_headers)
    assert missing.status_code == 404
