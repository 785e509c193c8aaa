"""Signup (R16, R6): the hosted form, double opt-in with a confirmation only a POST makes, a
link scanner that follows every URL in the email without changing anything, bots, and the
JSON twin for websites with a public form key."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from assent.storage.db import Database
from tests.conftest import count_rows
from tests.pages.conftest import ALICE, Shop, form_token, history, outbox, path, statuses, subscriber, urls_in


def _sign_up(client: TestClient, shop: Shop, **fields: Any) -> Any:
    page = client.get(f"/subscribe/{shop.bu}")
    assert page.status_code == 200
    data = {"csrf": form_token(page.text), "email": ALICE, "type": [str(shop.newsletter)], "consent": "1", **fields}
    return client.post(f"/subscribe/{shop.bu}", data=data)


def _decision(client: TestClient, headers: dict[str, str], type_id: int) -> list[str]:
    params = {"channel": "EMAIL", "address": ALICE, "subscription_type_id": type_id}
    reasons: list[str] = client.get("/api/v1/decisions", params=params, headers=headers).json()["reasons"]
    return reasons


def test_it_signs_up_with_double_opt_in_and_confirms_only_on_post(
    client: TestClient, shop: Shop, write_headers: dict[str, str], admin_headers: dict[str, str], db: Database
) -> None:
    client.patch(f"/api/v1/business-units/{shop.bu}", json={"double_opt_in": True}, headers=admin_headers)
    page = client.get(f"/subscribe/{shop.bu}")
    assert "Acme may email you about what you tick. Unsubscribe any time." in page.text  # the unit's notice
    assert "Old digest" not in page.text
    assert "SMS deals" not in page.text
    done = _sign_up(client, shop)
    assert done.status_code == 200
    assert "confirm your address" in done.text
    assert statuses(client, write_headers)[shop.newsletter] == "SUBSCRIBED"
    assert subscriber(client, write_headers)["confirmed"] is False
    assert _decision(client, write_headers, shop.newsletter) == ["UNCONFIRMED"]
    [event] = history(client, write_headers)[:1]
    assert (event["source"], event["actor_kind"], event["legal_basis"]) == ("FORM", "CONTACT", "CONSENT_WITH_NOTICE")
    assert event["notice_version"] == "acme-2026-1"

    [message] = outbox(db)
    assert message["Subject"] == "Please confirm your subscription to Acme AB"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<http://testserver/unsubscribe/[\w.\-]+>", message["List-Unsubscribe"])
    assert message.get_content_type() == "multipart/alternative"

    # A link scanner fetches every URL in the message: nothing changes.
    events = count_rows(db, "ledger_events")
    for url in urls_in(message):
        assert client.get(path(url)).status_code == 200, url
    assert count_rows(db, "ledger_events") == events
    assert subscriber(client, write_headers)["confirmed"] is False
    assert subscriber(client, write_headers)["wide_opt_outs"] == []

    confirm_url = next(path(u) for u in urls_in(message) if "/confirm/" in u)
    confirmed = client.post(confirm_url, data={"csrf": form_token(client.get(confirm_url).text)})
    assert confirmed.status_code == 200
    assert "you are confirmed" in confirmed.text
    assert subscriber(client, write_headers)["confirmed"] is True
    assert _decision(client, write_headers, shop.newsletter) == []
    last = history(client, write_headers)[-1]
    assert (last["kind"], last["source"], last["actor_kind"]) == ("CONFIRMATION", "DOUBLE_OPT_IN", "CONTACT")
    assert client.post(confirm_url, data={}).status_code == 403  # the button's form token is required


def test_it_rejects_an_incomplete_form_and_writes_nothing(client: TestClient, shop: Shop, db: Database) -> None:
    missing = _sign_up(client, shop, consent="", type=[])
    assert missing.status_code == 422
    assert "Choose at least one topic." in missing.text
    assert "Tick the box to agree." in missing.text
    assert _sign_up(client, shop, email="nope").status_code == 422
    assert _sign_up(client, shop, type=[str(shop.foreign)]).status_code == 422
    assert count_rows(db, "ledger_events") == 0


def test_it_thanks_a_bot_that_fills_the_honeypot_and_writes_nothing(
    client: TestClient, shop: Shop, db: Database
) -> None:
    bot = _sign_up(client, shop, website="https://spam.example")
    assert bot.status_code == 200
    assert "Thank you" in bot.text
    assert count_rows(db, "ledger_events") == 0
    assert outbox(db) == []


def test_it_takes_website_signups_with_a_public_form_key(
    client: TestClient, shop: Shop, write_headers: dict[str, str], admin_headers: dict[str, str], db: Database
) -> None:
    created = client.post(f"/api/v1/business-units/{shop.bu}/form-key", headers=admin_headers)
    assert created.status_code == 201
    key = created.json()["form_key"]
    body = {"business_unit_id": shop.bu, "address": ALICE, "subscription_type_ids": [shop.offers], "consent": True}

    preflight = client.options("/api/v1/form-submissions")
    assert (preflight.status_code, preflight.headers["access-control-allow-origin"]) == (204, "*")
    accepted = client.post("/api/v1/form-submissions", json={**body, "form_key": key})
    assert (accepted.status_code, accepted.json()) == (202, {"accepted": True})
    assert accepted.headers["access-control-allow-origin"] == "*"
    assert statuses(client, write_headers)[shop.offers] == "SUBSCRIBED"
    [event] = history(client, write_headers)
    assert (event["source"], event["actor_kind"], event["notice_version"]) == ("FORM", "CONTACT", "acme-2026-1")

    refused = [
        (client.post("/api/v1/form-submissions", json=body), 401, "UNAUTHENTICATED"),
        (client.post("/api/v1/form-submissions", json={**body, "form_key": "afk_forged"}), 401, "UNAUTHENTICATED"),
        (client.post("/api/v1/form-submissions", json={**body, "business_unit_id": 0, "form_key": key}), 403, "FORBIDDEN"),
        (client.post("/api/v1/form-submissions", json={**body, "consent": False, "form_key": key}), 422, "CONSENT_REQUIRED"),
        (client.post("/api/v1/form-submissions", json={**body, "address": "x", "form_key": key}), 422, "INVALID_ADDRESS"),
    ]
    for response, status, code in refused:
        assert (response.status_code, response.json()["code"]) == (status, code)
    bot = client.post("/api/v1/form-submissions", json={**body, "address": "bot@example.com", "website": "x", "form_key": key})
    assert bot.json() == {"accepted": True}
    assert count_rows(db, "ledger_events") == 1

    # A server with an API key sees the outcome; a new form key replaces the old one.
    with_key = client.post("/api/v1/form-submissions", json={**body, "subscription_type_ids": [shop.newsletter]},
                           headers=write_headers)
    assert with_key.status_code == 202
    assert with_key.json()["results"][0]["outcome"] == "CHANGED"
    client.post(f"/api/v1/business-units/{shop.bu}/form-key", headers=admin_headers)
    assert client.post("/api/v1/form-submissions", json={**body, "form_key": key}).status_code == 401


def test_it_limits_signups_per_address(client: TestClient, shop: Shop, admin_headers: dict[str, str]) -> None:
    key = client.post(f"/api/v1/business-units/{shop.bu}/form-key", headers=admin_headers).json()["form_key"]
    body = {"business_unit_id": shop.bu, "address": ALICE, "subscription_type_ids": [shop.offers], "consent": True,
            "form_key": key}
    codes = [client.post("/api/v1/form-submissions", json=body).status_code for _ in range(6)]
    assert codes == [202] * 5 + [429]
