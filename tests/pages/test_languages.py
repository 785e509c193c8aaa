"""Languages without a catalog (SPEC R17): Assent has English and Swedish catalogs, but units
and links may name any language. Pages and emails fall back along R17's order (the link's
language, the unit's default, then English); a tag that names no language at all is a 422
naming the field, before anything is written; nothing fails after a commit."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from assent.storage.db import Database
from tests.conftest import Catalog, count_rows
from tests.pages.conftest import ALICE, Shop, links_for, outbox, path, subscribe

BOB = "bob@example.com"


def _unsubscribe_from_all(client: TestClient, headers: dict[str, str], shop: Shop, address: str) -> None:
    one_click = path(links_for(client, headers, shop, address)["unsubscribe_all_url"])
    assert client.post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 200


def test_it_sends_a_resubscribe_email_asked_for_in_german_in_english(
    client: TestClient, shop: Shop, write_headers: dict[str, str], db: Database
) -> None:
    subscribe(client, write_headers, shop.newsletter)
    _unsubscribe_from_all(client, write_headers, shop, ALICE)
    url = f"/api/v1/subscribers/EMAIL/{ALICE}/resubscribe-email"
    sent = client.post(url, json={"business_unit_id": shop.bu, "language": "de"}, headers=write_headers)
    assert (sent.status_code, sent.json()["sent"]) == (202, True)
    [message] = outbox(db)
    assert message["Subject"] == "Would you like to hear from Acme AB again?"
    assert message["Content-Language"] == "en"


def test_it_falls_back_to_the_units_language_before_english(
    client: TestClient, make: Catalog, write_headers: dict[str, str], admin_headers: dict[str, str], db: Database
) -> None:
    unit = make.business_unit("Butik", company_name="Butik AB", default_language="sv", notice_text="Butik mejlar dig.")
    newsletter = make.type("Nyhetsbrev", business_unit_id=unit)
    client.patch(f"/api/v1/business-units/{unit}", json={"double_opt_in": True}, headers=admin_headers)
    submitted = client.post(
        "/api/v1/form-submissions",
        json={"business_unit_id": unit, "address": ALICE, "subscription_type_ids": [newsletter], "consent": True,
              "language": "de-AT"},
        headers=write_headers,
    )
    assert (submitted.status_code, submitted.json().get("confirmation_required")) == (202, True), submitted.text
    [message] = outbox(db)
    assert message["Content-Language"] == "sv"
    assert message["Subject"] == "Bekräfta din prenumeration hos Butik AB"
    # the confirmation link's page, in German by the link, is shown in the unit's Swedish
    confirm = client.get(path(message["List-Unsubscribe"].strip("<>")))
    assert confirm.status_code == 200
    assert 'lang="sv"' in confirm.text


def test_the_public_form_answers_the_same_whatever_the_addresss_state(
    client: TestClient, shop: Shop, write_headers: dict[str, str], admin_headers: dict[str, str], db: Database
) -> None:
    key = client.post(f"/api/v1/business-units/{shop.bu}/form-key", headers=admin_headers).json()["form_key"]
    subscribe(client, write_headers, shop.newsletter, address=BOB)
    _unsubscribe_from_all(client, write_headers, shop, BOB)

    def submit(address: str, language: str) -> tuple[int, Any]:
        response = client.post(
            "/api/v1/form-submissions",
            json={"business_unit_id": shop.bu, "address": address, "subscription_type_ids": [shop.offers],
                  "consent": True, "language": language, "form_key": key},
        )
        return response.status_code, response.json()

    assert submit(BOB, "de") == submit("fresh@example.com", "de") == (202, {"accepted": True})
    before = count_rows(db, "ledger_events")
    unknown = submit(BOB, "xx")
    assert submit("other@example.com", "xx") == unknown
    assert (unknown[0], unknown[1]["field"]) == (422, "language")
    assert count_rows(db, "ledger_events") == before


def test_it_refuses_a_language_it_does_not_know_naming_the_field(
    client: TestClient, shop: Shop, write_headers: dict[str, str], admin_headers: dict[str, str], db: Database
) -> None:
    links = client.post("/api/v1/links", json={"address": ALICE, "business_unit_id": shop.bu, "language": "xx"},
                        headers=write_headers)
    assert (links.status_code, links.json()["field"]) == (422, "language")
    assert count_rows(db, "link_subjects") == 0
    unit = client.post("/api/v1/business-units", json={"name": "Z", "default_language": "zz"}, headers=admin_headers)
    assert unit.status_code == 422
    assert "default_language" in unit.json()["field"]
    german = client.post("/api/v1/business-units", json={"name": "D", "default_language": "de"}, headers=admin_headers)
    assert german.status_code == 201
