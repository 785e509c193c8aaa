"""`POST /api/v1/links` and the tokens in its URLs (R13, R15): exact header values, no
personal data, forgery/tampering/truncation/wrong purpose refused with a friendly page, key
rotation, and expiry only when configured."""

from __future__ import annotations

import base64
import dataclasses
import re
import time
from typing import Any

import itsdangerous
import pytest
from fastapi.testclient import TestClient

from assent.app import create_app
from assent.config import Settings
from assent.storage.db import Database
from tests.conftest import count_rows
from tests.pages.conftest import ALICE, Shop, links_for, path, statuses, subscribe

TOKEN = r"[A-Za-z0-9_\-.]+"


def test_it_returns_the_urls_and_the_exact_list_unsubscribe_headers(
    client: TestClient, shop: Shop, write_headers: dict[str, str]
) -> None:
    links = links_for(client, write_headers, shop, language="sv-SE", subscription_type_id=shop.newsletter)
    assert (links["address"], links["channel"], links["language"]) == ("Alice.Andersson@example.com", "EMAIL", "sv")
    assert re.fullmatch(rf"http://testserver/preferences/{TOKEN}", links["preferences_url"])
    assert re.fullmatch(rf"http://testserver/unsubscribe/{TOKEN}", links["unsubscribe_url"])
    assert re.fullmatch(rf"http://testserver/unsubscribe/{TOKEN}", links["unsubscribe_all_url"])
    assert links["unsubscribe_url"] != links["unsubscribe_all_url"]
    assert links["list_unsubscribe"] == f"<{links['unsubscribe_url']}>"
    assert links["list_unsubscribe_post"] == "List-Unsubscribe=One-Click"
    assert links["headers"] == {
        "List-Unsubscribe": f"<{links['unsubscribe_url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    # Without a type, one-click means "from all" (the unsubscribe-all URL).
    wide = links_for(client, write_headers, shop)
    assert wide["unsubscribe_url"] is None
    assert wide["list_unsubscribe"] == f"<{wide['unsubscribe_all_url']}>"
    assert wide["language"] == "en"  # the business unit's default


def test_it_puts_no_personal_data_in_a_token(client: TestClient, shop: Shop, write_headers: dict[str, str]) -> None:
    links = links_for(client, write_headers, shop, subscription_type_id=shop.newsletter)
    for url in (links["preferences_url"], links["unsubscribe_url"], links["unsubscribe_all_url"]):
        token = url.rsplit("/", 1)[1]
        payload = token.split(".")[0]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        for text in (url.lower(), decoded.decode("latin-1").lower()):
            assert "alice" not in text
            assert "example" not in text


def test_it_rejects_bad_input_naming_the_field_and_writes_nothing(
    client: TestClient, shop: Shop, write_headers: dict[str, str], db: Database
) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"address": "not-an-email"}, "address", "INVALID_ADDRESS"),
        ({"business_unit_id": 999}, "business_unit_id", "UNKNOWN_BUSINESS_UNIT"),
        ({"subscription_type_id": shop.foreign}, "subscription_type_id", "WRONG_SUBSCRIPTION_TYPE"),
        ({"subscription_type_id": shop.sms}, "subscription_type_id", "WRONG_SUBSCRIPTION_TYPE"),
        ({"subscription_type_id": 999}, "subscription_type_id", "UNKNOWN_SUBSCRIPTION_TYPE"),
        ({"language": "english please"}, "language", "VALIDATION_FAILED"),
    ]
    for body, field, code in cases:
        response = client.post(
            "/api/v1/links", json={"address": ALICE, "business_unit_id": shop.bu, **body}, headers=write_headers
        )
        assert response.status_code == 422, (body, response.text)
        assert (response.json()["field"], response.json()["code"]) == (field, code)
    assert client.post("/api/v1/links", json={"address": ALICE}).status_code == 401
    assert count_rows(db, "link_subjects") == 0


def _tamper(token: str) -> str:
    payload, stamp, signature = token.split(".")
    return f"{payload}.{stamp}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"


def _alter_payload(token: str) -> str:
    """The same signature over a payload that names another business unit."""
    payload, stamp, signature = token.split(".")
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace(b",1,", b",0,", 1)
    return ".".join((base64.urlsafe_b64encode(data).decode().rstrip("="), stamp, signature))


def test_it_answers_forged_altered_truncated_and_foreign_tokens_with_a_friendly_localized_404(
    client: TestClient, shop: Shop, write_headers: dict[str, str], db: Database
) -> None:
    subscribe(client, write_headers, shop.newsletter)
    links = links_for(client, write_headers, shop, subscription_type_id=shop.newsletter)
    preference = path(links["preferences_url"]).rsplit("/", 1)[1]
    one_click = path(links["unsubscribe_url"]).rsplit("/", 1)[1]
    events = count_rows(db, "ledger_events")
    bad = [
        f"/preferences/{_tamper(preference)}",
        f"/preferences/{preference[:-5]}",
        f"/preferences/{preference.split('.')[0]}",
        f"/preferences/{_alter_payload(preference)}",
        f"/preferences/{one_click}",  # a one-click token is no preference token
        f"/unsubscribe/{preference}",  # and the other way round
        f"/confirm/{preference}",
        "/preferences/" + "A" * 5000,
        "/unsubscribe/%ff%fe",
    ]
    for url in bad:
        for method in ("GET", "POST"):
            response = client.request(
                method, url, data={"List-Unsubscribe": "One-Click"}, headers={"Accept-Language": "sv-SE,sv;q=0.9"}
            )
            assert response.status_code == 404, (method, url, response.status_code)
            assert response.headers["content-type"].startswith("text/html")
            assert "Den här länken fungerar inte" in response.text
            assert "Traceback" not in response.text
    assert count_rows(db, "ledger_events") == events
    assert statuses(client, write_headers)[shop.newsletter] == "SUBSCRIBED"


def test_it_keeps_links_working_while_their_key_is_listed(
    settings: Settings, db: Database, shop: Shop, write_headers: dict[str, str]
) -> None:
    def app_with(*keys: str) -> TestClient:
        return TestClient(create_app(dataclasses.replace(settings, secret_keys=keys), db))

    with app_with("old-key") as old:
        url = path(links_for(old, write_headers, shop)["preferences_url"])
        assert old.get(url).status_code == 200
    with app_with("new-key", "old-key") as rotated:
        assert rotated.get(url).status_code == 200
        fresh = path(links_for(rotated, write_headers, shop)["preferences_url"])
    with app_with("new-key") as dropped:
        assert dropped.get(url).status_code == 404
        assert dropped.get(fresh).status_code == 200


def test_it_never_expires_a_link_unless_a_maximum_age_is_set(
    settings: Settings, db: Database, shop: Shop, write_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(create_app(settings, db)) as client:
        year_ago = int(time.time()) - 400 * 86400
        with monkeypatch.context() as patched:
            patched.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: year_ago)
            old = path(links_for(client, write_headers, shop)["preferences_url"])
        assert client.get(old).status_code == 200
    with TestClient(create_app(dataclasses.replace(settings, link_max_age_days=60), db)) as strict:
        expired = strict.get(old)
        assert expired.status_code == 410
        assert "This link has expired" in expired.text
        assert strict.get(path(links_for(strict, write_headers, shop)["preferences_url"])).status_code == 200
