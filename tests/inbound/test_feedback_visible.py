"""What provider feedback leaves behind, where a user looks: the subscriber API, the admin
contact record and Activity, the suppression export, the ledger check; and what it never
leaves: an erased address (R22)."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from assent.services.users import create_user
from assent.services.verify import verify
from assent.storage import tables as t
from assent.storage.db import Database
from tests.admin.conftest import PASSWORD, Admin, text_of
from tests.conftest import Catalog
from tests.inbound.conftest import sendgrid_headers, subscriber
from tests.inbound.test_sendgrid import event

Headers = dict[str, str]


def send(client: TestClient, key: ec.EllipticCurvePrivateKey, events: list[dict[str, Any]]) -> dict[str, Any]:
    body = json.dumps(events).encode()
    response = client.post("/inbound/sendgrid", content=body, headers=sendgrid_headers(key, body))
    assert response.status_code == 200, response.text
    return dict(response.json())


def activity_rows(admin: Admin, source: str) -> list[str]:
    page = admin.get("/admin/activity", params={"source": source})
    assert page.status_code == 200
    body = page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [text_of(row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S) if "No events" not in row]


def test_feedback_shows_on_the_record_in_activity_and_in_the_export(
    inbound: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey, make: Catalog, admin_headers: Headers, db: Database
) -> None:
    news = make.type("Newsletter")
    contact = inbound.post("/api/v1/contacts", json={"email": "ann@example.com"}, headers=admin_headers).json()
    send(
        inbound,
        sendgrid_key,
        [
            event("bounce", "ann@example.com", "v1", type="blocked", status="4.2.2", reason="452 mailbox full"),
            event("bounce", "ann@example.com", "v2", type="bounce", status="5.1.1", reason="550 user unknown"),
            event("spamreport", "ann@example.com", "v3"),
            event("unsubscribe", "ben@example.com", "v4", assent_subscription_type_id=str(news)),
        ],
    )
    with db.write() as conn:
        create_user(conn, "editor@example.com", "editor", PASSWORD)
    admin = Admin(inbound, "editor@example.com")
    assert admin.sign_in().status_code == 303
    record = text_of(admin.get(f"/admin/contacts/{contact['id']}").text)
    assert "marked undeliverable since" in record
    assert "550 user unknown" in record
    assert "Soft bounces: 1" in record
    assert "452 mailbox full" in record
    assert "reported a message as spam" in record

    bounces = activity_rows(admin, "BOUNCE")
    assert len(bounces) == 2
    assert all("Bounce" in row for row in bounces)
    assert any("Soft bounce counted" in row and "452 mailbox full" in row for row in bounces)
    assert any("Deliverable → Undeliverable" in row and "550 user unknown" in row for row in bounces)
    complaints = activity_rows(admin, "SPAM_COMPLAINT")
    assert len(complaints) == 1
    assert "All email" in complaints[0]
    assert "the person themself" in complaints[0]
    assert len(activity_rows(admin, "ESP_UNSUBSCRIBE")) == 1

    export = inbound.get("/api/v1/exports/suppressions", headers=admin_headers)
    rows = {(r["address"], r["kind"], r["source"]) for r in csv.DictReader(io.StringIO(export.text))}
    assert rows == {
        ("ann@example.com", "UNDELIVERABLE", "BOUNCE"),
        ("ann@example.com", "SPAM_COMPLAINT", "SPAM_COMPLAINT"),
        ("ben@example.com", "UNSUBSCRIBED", "ESP_UNSUBSCRIBE"),
    }
    report = verify(db)
    assert report.problems == [], report.problems

    # A user clears undeliverable with an explanation (the existing route).
    cleared = inbound.request(
        "DELETE",
        "/api/v1/subscribers/EMAIL/ann@example.com/undeliverable",
        json={"legal_basis_explanation": "the mailbox exists again (confirmed by phone)"},
        headers=admin_headers,
    )
    assert cleared.status_code == 200, cleared.text
    assert subscriber(inbound, admin_headers, "ann@example.com")["undeliverable"] is False


def test_feedback_about_an_erased_address_keeps_only_its_keyed_hash(
    inbound: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey, admin_headers: Headers, db: Database
) -> None:
    erased = inbound.post(
        "/api/v1/erasures", json={"channel": "EMAIL", "address": "gone@example.com"}, headers=admin_headers
    )
    assert erased.status_code in (200, 201), erased.text
    result = send(
        inbound,
        sendgrid_key,
        [
            event("bounce", "Gone@example.com", "z1", type="bounce", reason="550"),
            event("spamreport", "gone@example.com", "z2"),
            event("bounce", "gone@example.com", "z3", type="blocked", reason="421"),
        ],
    )
    assert result["effects"] == {"ERASED": 3}
    with db.read() as conn:
        for table in (t.addresses, t.wide_opt_outs, t.subscription_statuses):
            assert conn.execute(sa.select(table).where(table.c.address == "gone@example.com")).first() is None
        named = conn.execute(sa.select(t.ledger_events.c.id).where(t.ledger_events.c.address.ilike("gone@%"))).all()
        assert named == []
        recorded = conn.execute(sa.select(t.inbound_events)).all()
    assert len(recorded) == 3
    assert all(r.address_hash and "@" not in r.address_hash for r in recorded)
    assert subscriber(inbound, admin_headers, "gone@example.com")["erased"] is True


def test_links_return_the_metadata_and_types_take_a_sendgrid_group(
    inbound: TestClient, make: Catalog, admin_headers: Headers
) -> None:
    news = make.type("Newsletter")
    links = inbound.post(
        "/api/v1/links", json={"address": "ann@example.com", "subscription_type_id": news}, headers=admin_headers
    ).json()
    values = {"assent_subscription_type_id": str(news), "assent_business_unit_id": "0"}
    assert links["esp_metadata"]["sendgrid"] == {"custom_args": values}
    assert links["esp_metadata"]["postmark"] == {"Metadata": values}
    assert json.loads(links["esp_metadata"]["mailgun"]["headers"]["X-Mailgun-Variables"]) == values
    assert {"Name": "assent_subscription_type_id", "Value": str(news)} in links["esp_metadata"]["ses"]["Tags"]
    assert links["list_unsubscribe"]  # beside the headers it already gave

    patched = inbound.patch(f"/api/v1/subscription-types/{news}", json={"sendgrid_group_id": 77}, headers=admin_headers)
    assert patched.status_code == 200
    assert patched.json()["sendgrid_group_id"] == 77
    other = make.type("Offers")
    clash = inbound.patch(f"/api/v1/subscription-types/{other}", json={"sendgrid_group_id": 77}, headers=admin_headers)
    assert clash.status_code == 422
    assert clash.json()["field"] == "sendgrid_group_id"
