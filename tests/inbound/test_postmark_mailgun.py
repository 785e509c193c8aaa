"""POST /inbound/postmark (Basic credentials) and /inbound/mailgun (HMAC-SHA256 signature),
with Postmark's and Mailgun's documented payload shapes."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from fastapi.testclient import TestClient

from assent.app import create_app
from assent.config import Settings
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows
from tests.inbound.conftest import basic, mailgun_body, status_of, subscriber, wides


def postmark_bounce(
    email: str, kind: str = "HardBounce", record_id: int = 4323372036854775807, **extra: Any
) -> dict[str, Any]:
    return {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": record_id,
        "Type": kind,
        "TypeCode": 1 if kind == "HardBounce" else 4096,
        "Name": "Hard bounce",
        "Tag": "Invitation",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "sender@example.com",
        "BouncedAt": "2026-11-27T16:33:54.9070259Z",
        "DumpAvailable": True,
        "Inactive": kind == "HardBounce",
        "CanActivate": True,
        "Subject": "Test subject",
        **extra,
    }


def subscription_change(email: str, suppress: bool, reason: str, **extra: Any) -> dict[str, Any]:
    return {
        "RecordType": "SubscriptionChange",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "ServerID": 123456,
        "MessageStream": "broadcast",
        "ChangedAt": "2026-11-27T10:53:34.416071Z",
        "Recipient": email,
        "Origin": "Recipient",
        "SuppressSending": suppress,
        "SuppressionReason": reason,
        "Tag": "my-tag",
        "Metadata": {},
        **extra,
    }


def test_postmark_maps_bounces_complaints_and_subscription_changes(
    inbound: TestClient, make: Catalog, admin_headers: dict[str, str]
) -> None:
    news = make.type("Newsletter")
    auth = basic()
    assert inbound.post(
        "/inbound/postmark", json=postmark_bounce("hard@example.com", record_id=1), headers=auth
    ).json()["effects"] == {"UNDELIVERABLE": 1}
    assert "550 5.1.1" in subscriber(inbound, admin_headers, "hard@example.com")["undeliverable_reason"]
    inbound.post("/inbound/postmark", json=postmark_bounce("soft@example.com", "SoftBounce", 2), headers=auth)
    assert subscriber(inbound, admin_headers, "soft@example.com")["soft_bounces"] == 1
    spam = {**postmark_bounce("spam@example.com", "SpamComplaint", 3), "RecordType": "SpamComplaint"}
    inbound.post("/inbound/postmark", json=spam, headers=auth)
    assert wides(subscriber(inbound, admin_headers, "spam@example.com")) == [(0, "CONTACT", "SPAM_COMPLAINT")]
    unsubscribed = subscription_change(
        "leaver@example.com", True, "ManualSuppression", Metadata={"assent_subscription_type_id": str(news)}
    )
    inbound.post("/inbound/postmark", json=unsubscribed, headers=auth)
    assert status_of(subscriber(inbound, admin_headers, "leaver@example.com"), news) == "UNSUBSCRIBED"
    # A suppression because of a hard bounce or a complaint means that, not an unsubscribe.
    inbound.post("/inbound/postmark", json=subscription_change("sc-hard@example.com", True, "HardBounce"), headers=auth)
    sc_hard = subscriber(inbound, admin_headers, "sc-hard@example.com")
    assert (sc_hard["undeliverable"], sc_hard["wide_opt_outs"]) == (True, [])
    inbound.post(
        "/inbound/postmark", json=subscription_change("sc-spam@example.com", True, "SpamComplaint"), headers=auth
    )
    assert wides(subscriber(inbound, admin_headers, "sc-spam@example.com")) == [(0, "CONTACT", "SPAM_COMPLAINT")]
    # A reactivation resubscribes no one (R5).
    back = subscription_change("leaver@example.com", False, "ManualSuppression", ChangedAt="2026-11-28T10:00:00Z")
    assert inbound.post("/inbound/postmark", json=back, headers=auth).json()["effects"] == {"EVIDENCE": 1}
    assert status_of(subscriber(inbound, admin_headers, "leaver@example.com"), news) == "UNSUBSCRIBED"
    # Delivery records mean nothing here.
    delivery = {"RecordType": "Delivery", "MessageID": "x", "Recipient": "ok@example.com"}
    assert inbound.post("/inbound/postmark", json=delivery, headers=auth).json()["ignored"] == 0
    # A retry of the same record writes nothing twice.
    again = inbound.post("/inbound/postmark", json=postmark_bounce("hard@example.com", record_id=1), headers=auth)
    assert again.json()["duplicates"] == 1


def test_postmark_refuses_wrong_credentials_and_bad_records(inbound: TestClient, db: Database) -> None:
    record = postmark_bounce("victim@example.com")
    assert inbound.post("/inbound/postmark", json=record).status_code == 401
    assert inbound.post("/inbound/postmark", json=record, headers=basic(password="wrong")).status_code == 401
    assert inbound.post("/inbound/postmark", json=record, headers=basic(user="other")).status_code == 401
    bad = inbound.post("/inbound/postmark", json=postmark_bounce("not an address"), headers=basic())
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("Email:")
    assert count_rows(db, "ledger_events") == 0


def mailgun_event(event: str, recipient: str, event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "timestamp": time.time(),
        "log-level": "error" if event == "failed" else "info",
        "event": event,
        "recipient": recipient,
        "recipient-domain": recipient.split("@")[-1],
        "message": {"headers": {"to": recipient, "message-id": "20261127.1@mg.example.com", "subject": "Hi"}},
        "tags": [],
        "user-variables": {},
        **extra,
    }


def test_mailgun_maps_failures_complaints_and_unsubscribes(
    inbound: TestClient, mailgun_key: str, make: Catalog, admin_headers: dict[str, str]
) -> None:
    news = make.type("Newsletter")
    status = {"code": 550, "message": "5.1.1 The email account does not exist", "description": "Not delivered"}
    hard = mailgun_event(
        "failed", "hard@example.com", "g1", severity="permanent", reason="bounce", **{"delivery-status": status}
    )
    assert inbound.post("/inbound/mailgun", json=mailgun_body(mailgun_key, hard)).json()["effects"] == {
        "UNDELIVERABLE": 1
    }
    assert "5.1.1" in subscriber(inbound, admin_headers, "hard@example.com")["undeliverable_reason"]
    soft = mailgun_event("failed", "soft@example.com", "g2", severity="temporary", reason="generic")
    inbound.post("/inbound/mailgun", json=mailgun_body(mailgun_key, soft))
    assert subscriber(inbound, admin_headers, "soft@example.com")["soft_bounces"] == 1
    inbound.post(
        "/inbound/mailgun", json=mailgun_body(mailgun_key, mailgun_event("complained", "spam@example.com", "g3"))
    )
    assert wides(subscriber(inbound, admin_headers, "spam@example.com")) == [(0, "CONTACT", "SPAM_COMPLAINT")]
    variables = {"assent_subscription_type_id": str(news), "assent_business_unit_id": "0"}
    leave = mailgun_event("unsubscribed", "leaver@example.com", "g4", **{"user-variables": variables})
    inbound.post("/inbound/mailgun", json=mailgun_body(mailgun_key, leave))
    assert status_of(subscriber(inbound, admin_headers, "leaver@example.com"), news) == "UNSUBSCRIBED"
    # The same event under a fresh token (a retry Mailgun signs anew) is a duplicate.
    assert inbound.post("/inbound/mailgun", json=mailgun_body(mailgun_key, hard)).json()["duplicates"] == 1


def test_mailgun_refuses_bad_signatures_stale_timestamps_and_replayed_tokens(
    inbound: TestClient, mailgun_key: str, db: Database
) -> None:
    event = mailgun_event("complained", "victim@example.com", "h1")
    assert inbound.post("/inbound/mailgun", json=mailgun_body("key-not-ours", event)).status_code == 401
    assert inbound.post("/inbound/mailgun", json={"event-data": event}).status_code == 401
    stale = inbound.post("/inbound/mailgun", json=mailgun_body(mailgun_key, event, timestamp=int(time.time()) - 301))
    assert stale.status_code == 401
    assert count_rows(db, "ledger_events") == 0
    signed = mailgun_body(mailgun_key, event, token="a" * 50)
    assert inbound.post("/inbound/mailgun", json=signed).status_code == 200
    written = count_rows(db, "ledger_events")
    # The signature covers timestamp + token only: a captured one must not carry another event.
    replay = {**signed, "event-data": mailgun_event("complained", "someone-else@example.com", "h2")}
    refused = inbound.post("/inbound/mailgun", json=replay)
    assert refused.status_code == 406
    assert count_rows(db, "ledger_events") == written


def test_each_provider_answers_503_naming_its_variable(settings: Settings, db: Database) -> None:
    bare = dataclasses.replace(settings, postmark_webhook_user="u", postmark_webhook_password=None)
    with TestClient(create_app(bare, db)) as client:
        assert "ASSENT_MAILGUN_SIGNING_KEY" in client.post("/inbound/mailgun", json={}).json()["detail"]
        postmark = client.post("/inbound/postmark", json={})
        assert postmark.status_code == 503
        assert "ASSENT_POSTMARK_WEBHOOK_PASSWORD" in postmark.json()["detail"]
