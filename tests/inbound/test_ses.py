"""POST /inbound/ses: SES notifications through SNS, signed with our own certificate, which a
real HTTPS server on loopback serves (tests/inbound/conftest.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assent.app import create_app
from assent.config import Settings
from assent.inbound.sns import allowed_url
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows
from tests.inbound.conftest import SnsServer, status_of, subscriber, wides


def bounce(kind: str, *recipients: str, tags: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": kind,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": r,
                    "action": "failed",
                    "status": "5.1.1" if kind == "Permanent" else "4.2.2",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown"
                    if kind == "Permanent"
                    else "smtp; 452 mailbox full",
                }
                for r in recipients
            ],
            "timestamp": "2026-11-27T10:00:00.000Z",
            "feedbackId": "0100017a-feedback",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        },
        "mail": {
            "timestamp": "2026-11-27T09:59:58.000Z",
            "messageId": "0100017a-message",
            "source": "news@sender.example.com",
            "destination": list(recipients),
            "tags": tags or {},
        },
    }


def complaint(recipient: str, tags: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": recipient}],
            "timestamp": "2026-11-27T10:00:00.000Z",
            "feedbackId": "0100017a-complaint",
            "complaintFeedbackType": "abuse",
            "complaintSubType": None,
        },
        "mail": {"messageId": "0100017a-m2", "source": "news@sender.example.com", "tags": tags or {}},
    }


def post(client: TestClient, message: dict[str, Any], **params: str) -> Any:
    return client.post(
        "/inbound/ses", content=json.dumps(message), params=params, headers={"Content-Type": "text/plain"}
    )


def test_it_confirms_a_subscription_by_visiting_its_subscribe_url(inbound: TestClient, sns_server: SnsServer) -> None:
    token = "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a7"
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": token,
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-feedback",
        "Message": "You have chosen to subscribe to the topic …",
        "SubscribeURL": f"{sns_server.base}/confirm?Action=ConfirmSubscription&Token={token}",
        "Timestamp": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
    }
    response = post(inbound, sns_server.sign(message, version=2))
    assert response.status_code == 200, response.text
    assert response.json()["confirmed"] is True
    assert f"/confirm?Action=ConfirmSubscription&Token={token}" in sns_server.requests


def test_it_never_visits_a_subscribe_url_outside_the_allowed_prefixes(
    inbound: TestClient, sns_server: SnsServer
) -> None:
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "m-evil",
        "Token": "t",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:x",
        "Message": "subscribe",
        "SubscribeURL": "https://attacker.example.com/confirm?steal=1",
        "Timestamp": dt.datetime.now(dt.UTC).isoformat(),
    }
    response = post(inbound, sns_server.sign(message))
    assert response.status_code == 401
    assert "SubscribeURL" in response.json()["detail"]


@pytest.mark.parametrize("version", [1, 2])
def test_it_applies_bounces_and_complaints(
    inbound: TestClient, sns_server: SnsServer, make: Catalog, admin_headers: dict[str, str], version: int
) -> None:
    brand = make.business_unit("Brand")
    news = make.type("Newsletter", business_unit_id=brand)
    tags = {"assent_subscription_type_id": [str(news)], "assent_business_unit_id": [str(brand)]}
    hard = sns_server.notification(bounce("Permanent", "gone@example.com", "also-gone@example.com"))
    assert post(inbound, sns_server.sign(hard, version)).json()["effects"] == {"UNDELIVERABLE": 2}
    for address in ("gone@example.com", "also-gone@example.com"):
        view = subscriber(inbound, admin_headers, address)
        assert view["undeliverable"] is True
        assert "550 5.1.1 user unknown" in view["undeliverable_reason"]
        assert view["undeliverable_at"].startswith("2026-11-27T10:00:00")
    soft = sns_server.notification(bounce("Transient", "full@example.com"))
    assert post(inbound, sns_server.sign(soft, version)).status_code == 200
    full = subscriber(inbound, admin_headers, "full@example.com")
    assert (full["undeliverable"], full["soft_bounces"]) == (False, 1)
    spam = sns_server.notification(complaint("angry@example.com", tags))
    assert post(inbound, sns_server.sign(spam, version)).status_code == 200
    angry = subscriber(inbound, admin_headers, "angry@example.com")
    assert wides(angry) == [(brand, "CONTACT", "SPAM_COMPLAINT")]
    assert status_of(angry, news) == "NOT_SPECIFIED"  # the type's status is kept; the wide opt-out blocks it


def test_it_deduplicates_on_the_sns_message_id(
    inbound: TestClient, sns_server: SnsServer, db: Database, admin_headers: dict[str, str]
) -> None:
    message = sns_server.sign(sns_server.notification(bounce("Transient", "retry@example.com")))
    assert post(inbound, message).json()["applied"] == 1
    assert post(inbound, message).json() == {
        "applied": 0, "duplicates": 1, "ignored": 0, "effects": {}, "rejected": []
    }  # fmt: skip
    assert subscriber(inbound, admin_headers, "retry@example.com")["soft_bounces"] == 1


def test_it_refuses_what_sns_did_not_sign(inbound: TestClient, sns_server: SnsServer, db: Database) -> None:
    signed = sns_server.sign(sns_server.notification(complaint("victim@example.com")))
    forged = {**signed, "Message": signed["Message"].replace("victim", "other")}
    assert post(inbound, forged).status_code == 401
    elsewhere = sns_server.sign(
        sns_server.notification(complaint("victim@example.com")), cert_url="https://127.0.0.2:1/cert.pem"
    )
    refused = post(inbound, elsewhere)
    assert refused.status_code == 401
    assert "SigningCertURL" in refused.json()["detail"]
    old = sns_server.notification(complaint("victim@example.com"), Timestamp="2020-01-01T00:00:00.000Z")
    stale = post(inbound, sns_server.sign(old))
    assert stale.status_code == 401
    assert "stale" in stale.json()["detail"]
    unknown_version = {**signed, "SignatureVersion": "3"}
    assert post(inbound, unknown_version).status_code == 401
    assert count_rows(db, "ledger_events") == 0
    # The UnsubscribeURL of every one of these messages was never visited.
    assert not [path for path in sns_server.requests if path.startswith("/unsubscribe")]


def test_it_refuses_raw_delivery_unless_its_token_is_configured_and_given(
    settings: Settings, feedback_settings: Settings, db: Database, admin_headers: dict[str, str]
) -> None:
    raw = bounce("Permanent", "raw@example.com")
    headers = {"x-amz-sns-message-id": "raw-1", "x-amz-sns-rawdelivery": "true"}
    with TestClient(create_app(feedback_settings, db)) as client:
        refused = client.post("/inbound/ses", content=json.dumps(raw), headers=headers)
        assert refused.status_code == 403
        assert "ASSENT_SES_RAW_TOKEN" in refused.json()["detail"]
    with TestClient(
        create_app(dataclasses.replace(feedback_settings, ses_raw_token="long-random-token"), db)
    ) as client:
        wrong = client.post("/inbound/ses?token=guess", content=json.dumps(raw), headers=headers)
        assert wrong.status_code == 401
        assert count_rows(db, "ledger_events") == 0
        taken = client.post("/inbound/ses?token=long-random-token", content=json.dumps(raw), headers=headers)
        assert taken.status_code == 200, taken.text
        assert subscriber(client, admin_headers, "raw@example.com")["undeliverable"] is True


def test_the_default_rule_admits_only_https_on_an_sns_host() -> None:
    assert allowed_url("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", ())
    assert allowed_url("https://sns.cn-north-1.amazonaws.com.cn/x.pem", ())
    for url in (
        "http://sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
        "https://sns.us-east-1.amazonaws.com@evil.example/x.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
        "https://s3.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com:8443/x.pem",
    ):
        assert not allowed_url(url, ()), url
    assert allowed_url("https://127.0.0.1:8443/cert.pem", ("https://127.0.0.1:8443",))
    assert not allowed_url("https://127.0.0.1:84431/cert.pem", ("https://127.0.0.1:8443",))


def test_it_fetches_the_certificate_only_over_verified_tls(
    feedback_settings: Settings, sns_server: SnsServer, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)  # the test CA is not trusted here
    message = sns_server.sign(sns_server.notification(complaint("victim@example.com")))
    with TestClient(create_app(feedback_settings, db)) as client:
        response = post(client, message)
    assert response.status_code == 502
    assert count_rows(db, "ledger_events") == 0


def test_the_signing_certificate_is_fetched_once_and_cached(
    inbound: TestClient, sns_server: SnsServer, admin_headers: dict[str, str]
) -> None:
    cert_url = f"{sns_server.base}/cert.pem?cached={secrets.token_hex(4)}"
    path = cert_url.removeprefix(sns_server.base)
    for n, version in enumerate((1, 2, 1)):
        message = sns_server.notification(bounce("Transient", f"cached{n}@example.com"))
        assert post(inbound, sns_server.sign(message, version, cert_url=cert_url)).json()["applied"] == 1
    assert sns_server.requests.count(path) == 1
    assert subscriber(inbound, admin_headers, "cached2@example.com")["soft_bounces"] == 1


def test_deliveries_and_not_spam_feedback_change_nothing(
    inbound: TestClient, sns_server: SnsServer, db: Database, admin_headers: dict[str, str]
) -> None:
    delivery = {
        "notificationType": "Delivery",
        "delivery": {
            "timestamp": "2026-11-27T10:00:00.000Z",
            "recipients": ["ok@example.com"],
            "smtpResponse": "250 2.6.0 Message received",
            "processingTimeMillis": 546,
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        },
        "mail": {"messageId": "0100017a-m3", "source": "news@sender.example.com", "destination": ["ok@example.com"]},
    }
    not_spam = complaint("ok@example.com")
    not_spam["complaint"]["complaintFeedbackType"] = "not-spam"
    for message in (delivery, not_spam):
        response = post(inbound, sns_server.sign(sns_server.notification(message), 2))
        assert response.status_code == 200, response.text
        assert response.json()["applied"] == 0
    view = subscriber(inbound, admin_headers, "ok@example.com")
    assert (view["undeliverable"], view["soft_bounces"]) == (False, 0)
    assert (view["wide_opt_outs"], view["complaints"]) == ([], [])
    assert count_rows(db, "ledger_events") == 0
    assert count_rows(db, "inbound_events") == 0


def test_with_topic_arns_set_another_accounts_topic_is_neither_confirmed_nor_believed(
    feedback_settings: Settings,
    sns_server: SnsServer,
    db: Database,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SNS signs every topic's messages, anyone's: a stranger may subscribe this endpoint to a
    topic of their own AWS account and publish "bounces" for any address. With
    ASSENT_SNS_TOPIC_ARNS set, only the listed topics are confirmed and believed."""
    monkeypatch.setenv("SSL_CERT_FILE", str(sns_server.ca_file))
    ours = "arn:aws:sns:us-east-1:123456789012:ses-feedback"
    theirs = "arn:aws:sns:us-east-1:999999999999:not-yours"
    listed = Settings.from_env({"ASSENT_SNS_TOPIC_ARNS": f" {ours}, arn:aws:sns:eu-west-1:123456789012:other "})
    assert listed.sns_topic_arns == (ours, "arn:aws:sns:eu-west-1:123456789012:other")
    settings = dataclasses.replace(feedback_settings, sns_topic_arns=(ours,), ses_raw_token="raw-token")
    stamp = dt.datetime.now(dt.UTC).isoformat()
    with TestClient(create_app(settings, db)) as client:
        confirm = {
            "Type": "SubscriptionConfirmation", "MessageId": "m-theirs", "Token": "their-token", "TopicArn": theirs,
            "Message": "subscribe", "SubscribeURL": f"{sns_server.base}/confirm?Token=their-token", "Timestamp": stamp,
        }  # fmt: skip
        refused = post(client, sns_server.sign(confirm))
        assert refused.status_code == 403
        assert "ASSENT_SNS_TOPIC_ARNS" in refused.json()["detail"]
        assert "/confirm?Token=their-token" not in sns_server.requests
        forged = sns_server.notification(bounce("Permanent", "victim@example.com"), TopicArn=theirs)
        assert post(client, sns_server.sign(forged)).status_code == 403
        assert count_rows(db, "ledger_events") == 0
        assert count_rows(db, "inbound_events") == 0
        real = sns_server.notification(bounce("Permanent", "gone@example.com"), TopicArn=ours)
        assert post(client, sns_server.sign(real, 2)).json()["effects"] == {"UNDELIVERABLE": 1}
        assert subscriber(client, admin_headers, "gone@example.com")["undeliverable"] is True
        assert subscriber(client, admin_headers, "victim@example.com")["undeliverable"] is False
        # Raw message delivery names its topic in a header.
        raw = json.dumps(bounce("Permanent", "raw@example.com"))
        for topic, status in ((theirs, 403), (ours, 200)):
            headers = {"x-amz-sns-message-id": f"raw-{status}", "x-amz-sns-topic-arn": topic}
            response = client.post("/inbound/ses?token=raw-token", content=raw, headers=headers)
            assert response.status_code == status, response.text
