"""Consent receipts (issue 17): signed JSON of one change, checked here with `cryptography`
and the public key the API gives out, exactly as the README tells anyone to; emailed after
a person's own opt-in when their business unit asks for it."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient

from assent.storage.db import Database
from tests.conftest import Catalog
from tests.evidence.helpers import checkpoint
from tests.pages.conftest import ALICE, Shop, form_token, links_for, outbox, path

Headers = dict[str, str]


def public_key(client: TestClient) -> Ed25519PublicKey:
    response = client.get("/api/v1/ledger/public-key")  # no API key: anyone may check
    assert response.status_code == 200
    body = response.json()
    assert body["algorithm"] == "Ed25519"
    key = load_pem_public_key(body["public_key_pem"].encode())
    assert isinstance(key, Ed25519PublicKey)
    return key


def signed_correctly(document: dict[str, Any], key: Ed25519PublicKey) -> bool:
    """The README's scheme, written out here independently of Assent's code."""
    body = {k: v for k, v in document.items() if k != "signature"}
    message = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    try:
        key.verify(base64.b64decode(document["signature"]), message)
    except InvalidSignature:
        return False
    return True


def test_a_receipt_is_signed_and_names_the_change(
    client: TestClient, make: Catalog, write_headers: Headers, read_headers: Headers, database_url: str
) -> None:
    unit = make.business_unit("Acme", company_name="Acme AB", postal_address="Storgatan 1, Stockholm")
    news = make.type("Newsletter", business_unit_id=unit, purpose="marketing")
    changed = client.post(
        f"/api/v1/subscribers/EMAIL/{ALICE}/statuses",
        json={
            "changes": [{"subscription_type_id": news, "status": "SUBSCRIBED"}],
            "source": "IMPORT",
            "legal_basis": "CONSENT_WITH_NOTICE",
            "legal_basis_explanation": "Signed up at the fair, form 17",
            "notice_text": "Acme may email you news.",
            "notice_version": "2026-1",
        },
        headers=write_headers,
    )
    assert changed.status_code == 200, changed.text
    [event] = client.get("/api/v1/events", headers=read_headers).json()["results"]
    response = client.get(f"/api/v1/events/{event['id']}/receipt", headers=read_headers)
    assert response.status_code == 200
    receipt = response.json()
    key = public_key(client)
    assert signed_correctly(receipt, key)
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert (receipt["collectionMethod"], receipt["piiPrincipalId"]) == ("IMPORT", "Alice.Andersson@example.com")
    assert receipt["piiControllers"] == [{"piiController": "Acme AB", "address": "Storgatan 1, Stockholm"}]
    [purpose] = receipt["services"][0]["purposes"]
    assert (purpose["purpose"], purpose["consentType"], purpose["status"]) == (
        "Newsletter", "CONSENT_WITH_NOTICE", "SUBSCRIBED"
    )  # fmt: skip
    assert receipt["notice"] == {"text": "Acme may email you news.", "version": "2026-1"}
    recorded = receipt["assent"]["event"]
    assert (recorded["id"], recorded["hash"]) == (event["id"], event["hash"])
    assert recorded["legal_basis_explanation"] == "Signed up at the fair, form 17"
    assert receipt["assent"]["checkpoint"] is None
    # A changed receipt no longer verifies.
    assert not signed_correctly({**receipt, "collectionMethod": "FORM"}, key)

    # Once a checkpoint covers the event, the receipt names it; the list gives it out as signed.
    signed = checkpoint(database_url)
    again = client.get(f"/api/v1/events/{event['id']}/receipt", headers=read_headers).json()
    assert again["assent"]["checkpoint"] == signed
    assert signed_correctly(again, key)
    listed = client.get("/api/v1/ledger/checkpoints", headers=read_headers).json()
    assert listed == {"results": [signed], "next": None}
    assert signed_correctly(listed["results"][0], key)


def test_a_receipt_needs_an_api_key_and_an_event(client: TestClient, read_headers: Headers) -> None:
    assert client.get("/api/v1/events/1/receipt").status_code == 401
    missing = client.get("/api/v1/events/99/receipt", headers=read_headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")
    assert client.get("/api/v1/events/0/receipt", headers=read_headers).status_code == 422
    assert client.get("/api/v1/ledger/checkpoints").status_code == 401


@pytest.mark.parametrize("receipts_on", [True, False])
def test_a_persons_own_opt_in_can_email_them_their_receipt(
    client: TestClient, shop: Shop, write_headers: Headers, admin_headers: Headers, db: Database, receipts_on: bool
) -> None:
    if receipts_on:
        patched = client.patch(f"/api/v1/business-units/{shop.bu}", json={"consent_receipts": True}, headers=admin_headers)
        assert patched.json()["consent_receipts"] is True
    page = client.get(f"/subscribe/{shop.bu}")
    data = {"csrf": form_token(page.text), "email": ALICE, "type": [str(shop.newsletter)], "consent": "1"}
    assert client.post(f"/subscribe/{shop.bu}", data=data).status_code == 200
    # The preference center: an opt-out of Offers sends nothing, opting in again does.
    url = path(links_for(client, write_headers, shop)["preferences_url"])
    for ticked in ([shop.newsletter], [shop.newsletter, shop.offers]):
        html = client.get(url).text
        shown = re.findall(r'name="shown" value="(\d+)"', html)
        data = {"csrf": form_token(html), "shown": shown, "type": [str(i) for i in ticked]}
        assert client.post(url, data=data, follow_redirects=False).status_code == 303

    receipts = [m for m in outbox(db) if "receipt" in str(m["Subject"])]
    if not receipts_on:
        assert receipts == []  # off by default
        return
    assert [str(m["Subject"]) for m in receipts] == ["Your consent receipt from Acme AB"] * 2
    assert all(str(m["To"]) == "Alice.Andersson@example.com" for m in receipts)
    key = public_key(client)
    attached = [
        (part.get_filename(), json.loads(part.get_content()))
        for message in receipts
        for part in message.iter_attachments()
    ]
    assert [(name.split("-")[0], doc["collectionMethod"]) for name, doc in attached] == [
        ("consent", "FORM"), ("consent", "PREFERENCE_CENTER")
    ]  # fmt: skip
    for name, document in attached:
        assert signed_correctly(document, key)
        assert name == f"consent-receipt-{document['assent']['event']['id']}.json"
        assert document["assent"]["event"]["new_status"] == "SUBSCRIBED"
    assert [d["services"][0]["purposes"][0]["purpose"] for _, d in attached] == ["Newsletter", "Offers"]
    assert "Offers" in receipts[1].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def test_the_units_setting_is_off_by_default_and_kept(client: TestClient, admin_headers: Headers) -> None:
    created = client.post("/api/v1/business-units", json={"name": "Brand"}, headers=admin_headers).json()
    assert created["consent_receipts"] is False
    refused = client.patch(f"/api/v1/business-units/{created['id']}", json={"consent_receipts": None}, headers=admin_headers)
    assert refused.status_code == 422
    kept = client.patch(f"/api/v1/business-units/{created['id']}", json={"consent_receipts": True}, headers=admin_headers)
    assert kept.json()["consent_receipts"] is True
    assert client.get(f"/api/v1/business-units/{created['id']}", headers=admin_headers).json()["consent_receipts"] is True


def test_a_website_signup_through_the_api_emails_the_receipt_too(
    client: TestClient, shop: Shop, admin_headers: Headers, db: Database
) -> None:
    """POST /api/v1/form-submissions is the same signup as the hosted page (the person's own
    opt-in, source FORM): with the unit's consent_receipts on, the person gets the receipt."""
    client.patch(f"/api/v1/business-units/{shop.bu}", json={"consent_receipts": True}, headers=admin_headers)
    key = client.post(f"/api/v1/business-units/{shop.bu}/form-key", headers=admin_headers).json()["form_key"]
    body = {"business_unit_id": shop.bu, "address": ALICE, "subscription_type_ids": [shop.offers], "consent": True}
    accepted = client.post("/api/v1/form-submissions", json={**body, "form_key": key})
    assert accepted.status_code == 202, accepted.text
    [receipt] = [m for m in outbox(db) if "receipt" in str(m["Subject"])]
    [(name, document)] = [(p.get_filename(), json.loads(p.get_content())) for p in receipt.iter_attachments()]
    assert (document["collectionMethod"], document["assent"]["event"]["new_status"]) == ("FORM", "SUBSCRIBED")
    assert name == f"consent-receipt-{document['assent']['event']['id']}.json"
    assert signed_correctly(document, public_key(client))
    # A second submission of the same choice changes nothing, and so confirms nothing.
    assert client.post("/api/v1/form-submissions", json={**body, "form_key": key}).status_code == 202
    assert len([m for m in outbox(db) if "receipt" in str(m["Subject"])]) == 1
