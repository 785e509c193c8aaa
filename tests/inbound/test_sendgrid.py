"""POST /inbound/sendgrid: SendGrid's Event Webhook, signed with our own P-256 key."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sendgrid import EventWebhook

from assent.app import create_app
from assent.config import Settings
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows
from tests.inbound.conftest import sendgrid_headers, status_of, subscriber, wides

NOW = int(time.time())


def event(name: str, email: str, event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "email": email,
        "timestamp": NOW,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": name,
        "category": ["newsletter"],
        "sg_event_id": event_id,
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        **extra,
    }


def post(client: TestClient, key: ec.EllipticCurvePrivateKey, events: Any, **kw: Any) -> Any:
    body = json.dumps(events).encode()
    return client.post("/inbound/sendgrid", content=body, headers=sendgrid_headers(key, body, **kw))


def test_it_maps_every_event_kind(
    inbound: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey, make: Catalog, admin_headers: dict[str, str]
) -> None:
    brand = make.business_unit("Brand")
    news = make.type("Newsletter")
    offers = make.type("Offers", business_unit_id=brand, sendgrid_group_id=4242)
    events = [
        event("bounce", "hard@example.com", "e1", type="bounce", status="5.1.1", reason="550 5.1.1 no such user"),
        event("bounce", "soft@example.com", "e2", type="blocked", status="4.7.1", reason="421 try later"),
        event("spamreport", "spam@example.com", "e3", assent_business_unit_id=str(brand)),
        event("unsubscribe", "typed@example.com", "e4", assent_subscription_type_id=str(news)),
        event("unsubscribe", "plain@example.com", "e5"),
        event("group_unsubscribe", "group@example.com", "e6", asm_group_id=4242),
        event("group_unsubscribe", "unknown-group@example.com", "e7", asm_group_id=99, assent_business_unit_id="0"),
        event("group_resubscribe", "typed@example.com", "e8", asm_group_id=4242),
        event("delivered", "ok@example.com", "e9", response="250 OK"),
        event("open", "ok@example.com", "e10"),
    ]
    response = post(inbound, sendgrid_key, events)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "applied": 8,
        "duplicates": 0,
        "ignored": 2,
        "effects": {"EVIDENCE": 1, "SOFT_BOUNCE": 1, "TYPE_OPT_OUT": 2, "UNDELIVERABLE": 1, "WIDE_OPT_OUT": 3},
        "rejected": [],
    }
    hard = subscriber(inbound, admin_headers, "hard@example.com")
    assert hard["undeliverable"] is True
    assert "550 5.1.1 no such user" in hard["undeliverable_reason"]
    assert hard["undeliverable_at"] is not None
    soft = subscriber(inbound, admin_headers, "soft@example.com")
    assert (soft["undeliverable"], soft["soft_bounces"]) == (False, 1)
    assert "421 try later" in soft["last_soft_bounce_reason"]
    spam = subscriber(inbound, admin_headers, "spam@example.com")
    assert wides(spam) == [(brand, "CONTACT", "SPAM_COMPLAINT")]
    assert [c["business_unit_id"] for c in spam["complaints"]] == [brand]
    typed = subscriber(inbound, admin_headers, "typed@example.com")
    assert status_of(typed, news) == "UNSUBSCRIBED"
    assert typed["wide_opt_outs"] == []
    plain = subscriber(inbound, admin_headers, "plain@example.com")
    assert wides(plain) == [(0, "CONTACT", "ESP_UNSUBSCRIBE")]
    grouped = subscriber(inbound, admin_headers, "group@example.com")
    assert status_of(grouped, offers) == "UNSUBSCRIBED"
    assert wides(subscriber(inbound, admin_headers, "unknown-group@example.com")) == [(0, "CONTACT", "ESP_UNSUBSCRIBE")]
    # The group resubscribe of typed@ changed nothing (R5), but is in the history.
    history = inbound.get("/api/v1/subscribers/EMAIL/typed@example.com/history", headers=admin_headers).json()
    kinds = [e["kind"] for e in history["results"]]
    assert "ESP_RESUBSCRIBE" in kinds
    decision = inbound.get(
        "/api/v1/decisions",
        params={"channel": "EMAIL", "address": "hard@example.com", "subscription_type_id": news},
        headers=admin_headers,
    ).json()
    assert "UNDELIVERABLE" in decision["reasons"]


def test_a_retry_writes_nothing_twice(
    inbound: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey, db: Database, admin_headers: dict[str, str]
) -> None:
    events = [
        event("bounce", "twice@example.com", "r1", type="blocked", reason="421"),
        event("spamreport", "twice@example.com", "r2"),
    ]
    assert post(inbound, sendgrid_key, events).json()["applied"] == 2
    ledger = count_rows(db, "ledger_events")
    again = post(inbound, sendgrid_key, events)
    assert again.status_code == 200
    assert again.json()["duplicates"] == 2
    assert again.json()["applied"] == 0
    assert count_rows(db, "ledger_events") == ledger
    assert subscriber(inbound, admin_headers, "twice@example.com")["soft_bounces"] == 1


def test_a_batch_with_bad_events_applies_the_good_ones(
    inbound: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey, admin_headers: dict[str, str]
) -> None:
    events = [
        event("bounce", "good@example.com", "m1", type="bounce", reason="550"),
        {"event": "bounce", "email": "noid@example.com"},
        event("spamreport", "not an address", "m3"),
        "not an object",
        event("spamreport", "good2@example.com", "m5"),
    ]
    body = post(inbound, sendgrid_key, events).json()
    assert body["applied"] == 2
    assert [(r["index"], r["id"]) for r in body["rejected"]] == [(1, None), (3, None), (2, "m3")]
    assert body["rejected"][2]["reason"].startswith("recipient:")
    assert subscriber(inbound, admin_headers, "good@example.com")["undeliverable"] is True
    assert subscriber(inbound, admin_headers, "good2@example.com")["complaints"] != []


def test_it_refuses_unsigned_missigned_and_stale_requests(
    inbound: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey, db: Database
) -> None:
    events = [event("spamreport", "victim@example.com", "x1")]
    body = json.dumps(events).encode()
    unsigned = inbound.post("/inbound/sendgrid", content=body)
    assert unsigned.status_code == 401
    assert unsigned.headers["content-type"] == "application/problem+json"
    headers = sendgrid_headers(sendgrid_key, body)
    tampered = inbound.post("/inbound/sendgrid", content=body.replace(b"victim", b"victor"), headers=headers)
    assert tampered.status_code == 401
    other_key = ec.generate_private_key(ec.SECP256R1())
    assert post(inbound, other_key, events).status_code == 401
    stale = post(inbound, sendgrid_key, events, timestamp=NOW - 301)
    assert stale.status_code == 401
    assert "stale" in stale.json()["detail"]
    assert count_rows(db, "ledger_events") == 0
    assert count_rows(db, "inbound_events") == 0


def test_it_bounds_the_body(inbound: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey) -> None:
    huge = b"[" + b" " * (9 * 1024 * 1024) + b"]"
    response = inbound.post("/inbound/sendgrid", content=huge, headers=sendgrid_headers(sendgrid_key, huge))
    assert response.status_code == 413


def test_it_answers_503_naming_the_variable_when_not_configured(settings: Settings, db: Database) -> None:
    bare = dataclasses.replace(settings, sendgrid_public_key=None)
    with TestClient(create_app(bare, db)) as client:
        response = client.post("/inbound/sendgrid", content=b"[]")
    assert response.status_code == 503
    assert "ASSENT_SENDGRID_PUBLIC_KEY" in response.json()["detail"]


def test_sendgrids_own_library_verifies_what_these_tests_sign(
    inbound: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey, feedback_settings: Settings
) -> None:
    """The helper that signs every SendGrid request here signs as SendGrid does: SendGrid's
    own verifier (sendgrid.EventWebhook) accepts its signature with the key as
    ASSENT_SENDGRID_PUBLIC_KEY holds it, and refuses it for another body or timestamp — and
    so does the endpoint."""
    body = json.dumps([event("spamreport", "lib@example.com", "lib-1")]).encode()
    headers = sendgrid_headers(sendgrid_key, body)
    signature = headers["X-Twilio-Email-Event-Webhook-Signature"]
    timestamp = headers["X-Twilio-Email-Event-Webhook-Timestamp"]
    assert feedback_settings.sendgrid_public_key is not None
    webhook = EventWebhook(feedback_settings.sendgrid_public_key)
    assert webhook.verify_signature(body.decode(), signature, timestamp) is True
    other = body.replace(b"lib@", b"lob@")
    assert webhook.verify_signature(other.decode(), signature, timestamp) is False
    assert webhook.verify_signature(body.decode(), signature, str(int(timestamp) + 1)) is False
    assert inbound.post("/inbound/sendgrid", content=other, headers=headers).status_code == 401
    later = {**headers, "X-Twilio-Email-Event-Webhook-Timestamp": str(int(timestamp) + 1)}
    assert inbound.post("/inbound/sendgrid", content=body, headers=later).status_code == 401
    assert inbound.post("/inbound/sendgrid", content=body, headers=headers).json()["applied"] == 1


def test_the_same_batch_delivered_four_times_at_once_applies_once(
    inbound: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey, db: Database, admin_headers: dict[str, str]
) -> None:
    """A provider's retries racing the first delivery (a timeout): exactly one request
    applies each event, the others count it a duplicate, and nothing is written twice."""
    events = [
        event("bounce", f"race{i}@example.com", f"race-{i}", type="blocked", reason="421 try later") for i in range(50)
    ] + [event("spamreport", "race-spam@example.com", "race-spam")]
    body = json.dumps(events).encode()
    headers = sendgrid_headers(sendgrid_key, body)
    start = threading.Barrier(4)

    def deliver() -> dict[str, Any]:
        start.wait()
        response = inbound.post("/inbound/sendgrid", content=body, headers=headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: deliver(), range(4)))
    assert sum(a["applied"] for a in answers) == len(events)
    assert sum(a["duplicates"] for a in answers) == 3 * len(events)
    assert count_rows(db, "inbound_events") == len(events)
    assert count_rows(db, "ledger_events") == len(events)  # one soft bounce or opt-out event each
    assert all(subscriber(inbound, admin_headers, f"race{i}@example.com")["soft_bounces"] == 1 for i in (0, 25, 49))
    assert len(subscriber(inbound, admin_headers, "race-spam@example.com")["wide_opt_outs"]) == 1


def test_a_later_group_resubscribe_lifts_nothing_and_drops_and_blocks_mean_what_they_say(
    inbound: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey, make: Catalog, admin_headers: dict[str, str]
) -> None:
    offers = make.type("Offers", sendgrid_group_id=31)
    assert post(inbound, sendgrid_key, [event("group_unsubscribe", "back@example.com", "g1", asm_group_id=31)]).json()[
        "effects"
    ] == {"TYPE_OPT_OUT": 1}
    # The person resubscribed in SendGrid's preference page, in a later request (R5: not here).
    later = post(inbound, sendgrid_key, [event("group_resubscribe", "back@example.com", "g2", asm_group_id=31)])
    assert later.json()["effects"] == {"EVIDENCE": 1}
    back = subscriber(inbound, admin_headers, "back@example.com")
    assert status_of(back, offers) == "UNSUBSCRIBED"
    history = inbound.get("/api/v1/subscribers/EMAIL/back@example.com/history", headers=admin_headers).json()
    assert [e["kind"] for e in history["results"]].count("ESP_RESUBSCRIBE") == 1

    # `dropped`: SendGrid did not send because its own lists hold the address.
    dropped = [
        event("dropped", "d-bounced@example.com", "d1", reason="Bounced Address"),
        event("dropped", "d-spam@example.com", "d2", reason="Spam Reporting Address"),
        event("dropped", "d-unsub@example.com", "d3", reason="Unsubscribed Address"),
        event("dropped", "d-invalid@example.com", "d4", reason="Invalid SMTPAPI header"),
    ]
    assert post(inbound, sendgrid_key, dropped).json()["effects"] == {"UNDELIVERABLE": 1, "WIDE_OPT_OUT": 2}
    assert subscriber(inbound, admin_headers, "d-bounced@example.com")["undeliverable"] is True
    assert wides(subscriber(inbound, admin_headers, "d-spam@example.com")) == [(0, "CONTACT", "SPAM_COMPLAINT")]
    assert wides(subscriber(inbound, admin_headers, "d-unsub@example.com")) == [(0, "CONTACT", "ESP_UNSUBSCRIBE")]

    # Soft bounces (blocks) are counted and never suppress: the decision is a never-bounced address's.
    blocks = [event("bounce", "blocked@example.com", f"b{i}", type="blocked", reason="421") for i in range(3)]
    post(inbound, sendgrid_key, blocks)
    assert subscriber(inbound, admin_headers, "blocked@example.com")["soft_bounces"] == 3

    def decision(address: str) -> dict[str, Any]:
        params = {"channel": "EMAIL", "address": address, "subscription_type_id": offers}
        answer = dict(inbound.get("/api/v1/decisions", params=params, headers=admin_headers).json())
        return {k: answer[k] for k in ("allowed", "reasons")}

    assert decision("blocked@example.com") == decision("never-bounced@example.com")
    assert "UNDELIVERABLE" in decision("d-bounced@example.com")["reasons"]
