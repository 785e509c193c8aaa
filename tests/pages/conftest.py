"""Fixtures for the contact-facing pages: a branded business unit with types, links from
the API, the local mail outbox, and the page's own form token."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assent.config import Settings
from assent.domain.model import Channel
from assent.mail import mailer_for
from assent.mail.queue import MailSender
from assent.storage import tables as t
from assent.storage.db import Database
from tests.conftest import Catalog

ALICE = "Alice.Andersson@Example.com"


@dataclass(frozen=True)
class Shop:
    """Business unit "Acme" with two active email types (one translated), an archived one,
    an SMS type, and a type of another unit — the last three never on Acme's email page."""

    bu: int
    newsletter: int
    offers: int
    archived: int
    sms: int
    foreign: int


@pytest.fixture
def shop(make: Catalog) -> Shop:
    bu = make.business_unit(
        "Acme",
        company_name="Acme AB",
        postal_address="Storgatan 1, 111 22 Stockholm",
        primary_color="#0b6e4f",
        notice_text="Acme may email you about what you tick. Unsubscribe any time.",
        notice_version="acme-2026-1",
    )
    return Shop(
        bu=bu,
        newsletter=make.type(
            "Newsletter",
            business_unit_id=bu,
            description="News from Acme, once a month.",
            translations={"sv": {"name": "Nyhetsbrev", "description": "Nyheter från Acme, en gång i månaden."}},
        ),
        offers=make.type("Offers", business_unit_id=bu, description="Deals and discounts."),
        archived=make.type("Old digest", business_unit_id=bu, is_active=False),
        sms=make.type("SMS deals", Channel.SMS, business_unit_id=bu),
        foreign=make.type("Other brand news", business_unit_id=0),
    )


def links_for(
    client: TestClient, headers: dict[str, str], shop: Shop, address: str = ALICE, **body: Any
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/links", json={"address": address, "business_unit_id": shop.bu, **body}, headers=headers
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def path(url: str) -> str:
    """The path of one of our URLs (the test app's base URL is http://testserver)."""
    return url.removeprefix("http://testserver")


def form_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


def subscriber(client: TestClient, headers: dict[str, str], address: str = ALICE) -> dict[str, Any]:
    response = client.get(f"/api/v1/subscribers/EMAIL/{address}", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def statuses(client: TestClient, headers: dict[str, str], address: str = ALICE) -> dict[int, str]:
    return {s["subscription_type_id"]: s["status"] for s in subscriber(client, headers, address)["statuses"]}


def history(client: TestClient, headers: dict[str, str], address: str = ALICE) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/subscribers/EMAIL/{address}/history", headers=headers)
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["results"]))  # oldest first


def subscribe(client: TestClient, headers: dict[str, str], *type_ids: int, address: str = ALICE) -> None:
    response = client.post(
        f"/api/v1/subscribers/EMAIL/{address}/statuses",
        json={"changes": [{"subscription_type_id": i, "status": "SUBSCRIBED"} for i in type_ids]},
        headers=headers,
    )
    assert response.status_code == 200, response.text


def outbox(db: Database) -> list[EmailMessage]:
    """Mail kept by the local outbox (no ASSENT_SMTP_URL in tests), oldest first."""
    with db.read() as conn:
        rows = conn.execute(sa.select(t.mail_outbox.c.message).order_by(t.mail_outbox.c.id)).scalars().all()
    return [email.message_from_bytes(raw, policy=email.policy.default) for raw in rows]  # type: ignore[misc]


def worker_sends_mail(db: Database, settings: Settings) -> int:
    """What `assent worker` does with the mail queue: send every message that is due (with
    ASSENT_SMTP_URL set, the requests only queue mail, R33). Returns how many it tried."""
    sender = MailSender(db, mailer_for(settings, db), retry_base_seconds=settings.mail_retry_base_seconds)
    tried = 0
    while found := sender.work_once():
        tried += found
    return tried


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def html_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


def urls_in(message: EmailMessage) -> list[str]:
    """Every URL a link scanner would find: body parts and the List-Unsubscribe header."""
    found = re.findall(r"https?://[^\s<>\"']+", text_of(message) + html_of(message))
    found += re.findall(r"<(https?://[^>]+)>", str(message.get("List-Unsubscribe", "")))
    return list(dict.fromkeys(found))
