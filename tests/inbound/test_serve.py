"""Email feedback through a real `assent serve` configured as the README's "Connect your email
provider" says (ASSENT_SENDGRID_PUBLIC_KEY, ASSENT_MAILGUN_SIGNING_KEY, the Postmark pair): signed
requests over HTTP, and what the subscriber API then shows."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import Catalog
from tests.inbound.conftest import POSTMARK_PASSWORD, POSTMARK_USER, mailgun_body, sendgrid_headers
from tests.serve_process import ServeProcess


def test_a_served_assent_takes_signed_feedback_and_the_api_shows_it(
    database_url: str,
    tmp_path: Path,
    make: Catalog,
    admin_headers: dict[str, str],
    sendgrid_key: ec.EllipticCurvePrivateKey,
    mailgun_key: str,
) -> None:
    news = make.type("Newsletter")
    offers = make.type("Offers", sendgrid_group_id=808)
    public = sendgrid_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    env = {
        "ASSENT_DATABASE_URL": database_url,
        "ASSENT_SECRET_KEYS": "serve-feedback-secret",
        "ASSENT_SENDGRID_PUBLIC_KEY": base64.b64encode(public).decode(),
        "ASSENT_MAILGUN_SIGNING_KEY": mailgun_key,
        "ASSENT_POSTMARK_WEBHOOK_USER": POSTMARK_USER,
        "ASSENT_POSTMARK_WEBHOOK_PASSWORD": POSTMARK_PASSWORD,
    }
    now = int(time.time())
    batch = [
        {"email": "sg-hard@example.com", "timestamp": now, "event": "bounce", "type": "bounce",
         "status": "5.1.1", "reason": "550 5.1.1 no such user", "sg_event_id": "s1"},
        {"email": "sg-group@example.com", "timestamp": now, "event": "group_unsubscribe", "asm_group_id": 808,
         "sg_event_id": "s2"},
        {"email": "sg-spam@example.com", "timestamp": now, "event": "spamreport", "sg_event_id": "s3"},
    ]  # fmt: skip
    body = json.dumps(batch).encode()
    failed = {
        "id": "mg-1", "timestamp": now, "event": "failed", "severity": "temporary", "reason": "generic",
        "recipient": "mg-soft@example.com", "delivery-status": {"code": 452, "message": "4.2.2 mailbox full"},
    }  # fmt: skip
    left = {
        "id": "mg-2", "timestamp": now, "event": "unsubscribed", "recipient": "mg-leave@example.com",
        "user-variables": {"assent_subscription_type_id": str(news)},
    }  # fmt: skip
    with ServeProcess(tmp_path, env, "--no-worker") as server, httpx.Client(base_url=server.url) as client:
        signed = sendgrid_headers(sendgrid_key, body)
        taken = client.post("/inbound/sendgrid", content=body, headers=signed)
        assert taken.status_code == 200, taken.text
        assert taken.json()["effects"] == {"TYPE_OPT_OUT": 1, "UNDELIVERABLE": 1, "WIDE_OPT_OUT": 1}
        retried = client.post("/inbound/sendgrid", content=body, headers=sendgrid_headers(sendgrid_key, body))
        assert (retried.json()["applied"], retried.json()["duplicates"]) == (0, 3)
        forged = client.post("/inbound/sendgrid", content=body.replace(b"sg-spam", b"sg-else"), headers=signed)
        assert forged.status_code == 401
        for data in (failed, left):
            assert client.post("/inbound/mailgun", json=mailgun_body(mailgun_key, data)).status_code == 200
        replayed = mailgun_body(mailgun_key, {**left, "id": "mg-3", "recipient": "mg-other@example.com"})
        assert client.post("/inbound/mailgun", json=replayed).status_code == 200
        assert client.post("/inbound/mailgun", json=replayed).status_code == 406  # its token again
        record = {"RecordType": "SpamComplaint", "ID": 77, "Email": "pm-spam@example.com", "Type": "SpamComplaint"}
        postmark_url = (
            server.url.replace("http://", f"http://{POSTMARK_USER}:{POSTMARK_PASSWORD}@") + "/inbound/postmark"
        )
        assert httpx.post(postmark_url, json=record).status_code == 200  # credentials in the URL, as Postmark calls

        def view(address: str) -> dict[str, Any]:
            answer = client.get(f"/api/v1/subscribers/EMAIL/{address}", headers=admin_headers)
            assert answer.status_code == 200, answer.text
            return dict(answer.json())

        def status(address: str, type_id: int) -> str:
            return str(next(s["status"] for s in view(address)["statuses"] if s["subscription_type_id"] == type_id))

        hard = view("sg-hard@example.com")
        assert hard["undeliverable"] is True
        assert "550 5.1.1 no such user" in hard["undeliverable_reason"]
        assert status("sg-group@example.com", offers) == "UNSUBSCRIBED"
        spam = view("sg-spam@example.com")
        assert [(w["source"], w["set_by"]) for w in spam["wide_opt_outs"]] == [("SPAM_COMPLAINT", "CONTACT")]
        soft = view("mg-soft@example.com")
        assert (soft["undeliverable"], soft["soft_bounces"]) == (False, 1)
        assert "4.2.2 mailbox full" in soft["last_soft_bounce_reason"]
        assert status("mg-leave@example.com", news) == "UNSUBSCRIBED"
        assert [w["source"] for w in view("pm-spam@example.com")["wide_opt_outs"]] == ["SPAM_COMPLAINT"]
