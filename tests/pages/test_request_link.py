""""Get my link" (R14): the same answer for known and unknown addresses, mail only to known
ones, and rate limits that live in the database (shared by every process)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from assent.app import create_app
from assent.config import Settings
from assent.storage.db import Database
from tests.pages.conftest import ALICE, Shop, form_token, outbox, subscribe, text_of


def _ask(client: TestClient, email: str, bu: int = 0, **extra: str) -> Any:
    page = client.get("/preferences", params={"business_unit_id": bu})
    return client.post(
        "/preferences", data={"csrf": form_token(page.text), "email": email, "business_unit_id": bu, **extra}
    )


def _visible(html: str) -> str:
    """The page without its per-response nonce and form token."""
    return re.sub(r'(nonce="|nonce-|value=")[^"]+', r"\1…", html)


def test_it_answers_alike_for_known_and_unknown_addresses_and_mails_only_the_known(
    client: TestClient, shop: Shop, write_headers: dict[str, str], db: Database
) -> None:
    subscribe(client, write_headers, shop.newsletter)
    known = _ask(client, "alice.andersson@EXAMPLE.com", shop.bu)
    unknown = _ask(client, "nobody@example.com", shop.bu)
    assert known.status_code == unknown.status_code == 200
    assert _visible(known.text) == _visible(unknown.text)
    assert "a link to your preferences is on its way" in known.text
    [message] = outbox(db)
    assert message["To"] == "Alice.Andersson@example.com"
    assert message["Subject"] == "Your email preferences for Acme AB"
    assert "List-Unsubscribe" not in message  # asked for by the person: not list mail
    url = re.search(r"http://testserver(/preferences/\S+)", text_of(message))
    assert url
    page = client.get(url.group(1))
    assert page.status_code == 200
    assert "Alice.Andersson@example.com" in page.text


def test_it_refuses_bad_addresses_and_ignores_bots(client: TestClient, db: Database) -> None:
    invalid = _ask(client, "not an address")
    assert invalid.status_code == 422
    assert 'aria-invalid="true"' in invalid.text
    bot = _ask(client, ALICE, website="https://spam.example")
    assert bot.status_code == 200
    missing_token = client.post("/preferences", data={"email": ALICE})
    assert missing_token.status_code == 403
    assert outbox(db) == []


def test_it_limits_requests_per_address_and_per_client_across_processes(
    settings: Settings, db: Database
) -> None:
    # Two apps on one database stand for two `assent serve` processes behind a balancer.
    with TestClient(create_app(settings, db)) as one, TestClient(create_app(settings, db)) as two:
        answers = [_ask((one, two)[i % 2], "alice@example.com").status_code for i in range(4)]
        assert answers == [200, 200, 200, 429]  # 3 an hour per address
        limited = _ask(one, "alice@example.com")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        assert "Too many requests" in limited.text
        # Per client: 10 an hour whatever the address (5 used above).
        answers = [_ask((one, two)[i % 2], f"person{i}@example.com").status_code for i in range(6)]
        assert answers == [200, 200, 200, 200, 200, 429]
