"""Erasure (R22, R10, R24) through the API, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assent.domain.model import Channel
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows
from tests.jobs.helpers import outcomes, run_jobs, start

Headers = dict[str, str]
DANA = "Dana.Doe@Example.com"


def statuses(client: TestClient, headers: Headers, address: str, type_id: int, status: str, **extra: Any) -> Any:
    body = {"changes": [{"subscription_type_id": type_id, "status": status}], **extra}
    response = client.post(f"/api/v1/subscribers/EMAIL/{address}/statuses", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["results"][0]


def erase(client: TestClient, headers: Headers, **body: Any) -> Any:
    return client.post("/api/v1/erasures", json=body, headers=headers)


def test_it_erases_an_address_and_keeps_it_suppressed(
    client: TestClient, make: Catalog, admin_headers: Headers, db: Database
) -> None:
    newsletter = make.type("Newsletter")
    offers = make.type("Offers")
    dana = client.post("/api/v1/contacts", json={"email": DANA, "last_name": "Doe"}, headers=admin_headers).json()
    statuses(client, admin_headers, DANA, newsletter, "SUBSCRIBED", legal_basis_explanation="met at a fair")
    statuses(client, admin_headers, DANA, offers, "UNSUBSCRIBED")
    client.put(f"/api/v1/subscribers/EMAIL/{DANA}/unsubscribe-all", headers=admin_headers)
    statuses(client, admin_headers, "other@example.com", newsletter, "SUBSCRIBED")
    link = client.post("/api/v1/links", json={"address": DANA}, headers=admin_headers).json()["preferences_url"]

    response = erase(client, admin_headers, channel="EMAIL", address=DANA)
    assert response.status_code == 200, response.text
    assert "dana" not in response.text.lower()
    counts = {k: v for k, v in response.json().items() if k != "erased_at"}
    assert counts == {
        "addresses": 1,
        "contacts_deleted": 1,
        "statuses_deleted": 2,
        "wide_opt_outs_deleted": 1,
        "events_redacted": 3,
        "other_records_cleared": 1,  # the address behind its preference links
        "erasure_events": 1,
    }
    assert client.get(f"/api/v1/contacts/{dana['id']}", headers=admin_headers).status_code == 404
    assert client.get(link.removeprefix("http://testserver")).status_code == 404

    # History keeps what happened, not who it was.
    history = client.get(f"/api/v1/subscribers/EMAIL/{DANA}/history", headers=admin_headers).json()["results"]
    assert [e["kind"] for e in history] == ["ERASURE", "WIDE_OPT_OUT", "STATUS", "STATUS"]
    personal = ("address", "legal_basis_explanation", "ip", "user_agent", "notice_text")
    assert all(e["redacted"] and not any(e[name] for name in personal) for e in history[1:])
    assert (history[0]["address"], history[0]["redacted"]) == (None, False)
    assert (history[0]["source"], history[0]["actor_kind"], history[0]["new_status"]) == ("ERASURE", "SYSTEM", "ERASED")
    with db.read() as conn:
        stored = conn.execute(sa.text("SELECT address, legal_basis_explanation FROM ledger_events")).all()
    assert [tuple(r) for r in stored].count(("other@example.com", None)) == 1
    assert not any("dana" in (r.address or "").lower() or r.legal_basis_explanation for r in stored)

    # R10: others cannot opt the address in again; opting out still works; decisions say ERASED.
    refused = statuses(client, admin_headers, DANA, newsletter, "SUBSCRIBED")
    assert (refused["outcome"], refused["reason"]) == ("REFUSED", "ERASED")
    wide = client.request("DELETE", f"/api/v1/subscribers/EMAIL/{DANA}/unsubscribe-all", headers=admin_headers)
    assert wide.json()["outcome"] == "UNCHANGED"
    assert count_rows(db, "addresses") == 1  # a refused change leaves no trace of Dana: only "other"
    assert statuses(client, admin_headers, DANA, offers, "UNSUBSCRIBED")["outcome"] == "CHANGED"
    decision = client.get(
        "/api/v1/decisions", params={"address": DANA, "subscription_type_id": newsletter}, headers=admin_headers
    ).json()
    assert decision["reasons"] == ["ERASED"]
    subscriber = client.get(f"/api/v1/subscribers/EMAIL/{DANA}", headers=admin_headers).json()
    assert subscriber["erased"] is True
    assert subscriber["wide_opt_outs"] == []
    # R22: the person can still opt in themself, which lifts the suppression.
    own = statuses(client, admin_headers, DANA, newsletter, "SUBSCRIBED", source="FORM", notice_text="Yes please")
    assert own["outcome"] == "CHANGED"
    assert client.get(f"/api/v1/subscribers/EMAIL/{DANA}", headers=admin_headers).json()["erased"] is False


def test_it_erases_a_contact_with_every_address_it_holds(
    client: TestClient, make: Catalog, admin_headers: Headers, db: Database
) -> None:
    sms = make.type("SMS offers", Channel.SMS)
    eve = client.post(
        "/api/v1/contacts", json={"email": "eve@example.com", "phone": "+46701234501"}, headers=admin_headers
    ).json()
    twin = client.post("/api/v1/contacts", json={"phone": "+46 70 123 45 01"}, headers=admin_headers).json()
    client.post(
        "/api/v1/subscribers/SMS/+46701234501/statuses",
        json={"changes": [{"subscription_type_id": sms, "status": "SUBSCRIBED"}]},
        headers=admin_headers,
    )
    response = erase(client, admin_headers, contact_id=eve["id"])
    assert response.status_code == 200, response.text
    body = response.json()
    # email, and the phone on SMS and on WhatsApp; both contacts holding the phone go
    assert (body["addresses"], body["contacts_deleted"], body["erasure_events"]) == (3, 2, 3)
    assert client.get(f"/api/v1/contacts/{twin['id']}", headers=admin_headers).status_code == 404
    assert count_rows(db, "erasures") == 3
    whatsapp = client.get("/api/v1/subscribers/WHATSAPP/+46701234501", headers=admin_headers).json()
    assert whatsapp["erased"] is True

    again = erase(client, admin_headers, channel="SMS", address="+46701234501").json()
    assert (again["addresses"], again["erasure_events"]) == (2, 0)  # nothing left: no second event
    assert count_rows(db, "ledger_events") == 4
    assert erase(client, admin_headers, contact_id=eve["id"]).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "EMAIL", "address": "not an address"}, "address"),
        ({"channel": "EMAIL", "address": "a@example.com", "contact_id": 1}, "contact_id"),
        ({"address": "a@example.com"}, "channel"),
        ({}, "address"),
    ],
)
def test_it_rejects_a_bad_erasure_naming_the_field_and_erases_nothing(
    client: TestClient, admin_headers: Headers, db: Database, body: dict[str, Any], field: str
) -> None:
    response = erase(client, admin_headers, **body)
    assert (response.status_code, response.json()["field"]) == (422, field)
    assert count_rows(db, "erasures") == 0


def test_it_takes_the_admin_scope_to_erase(client: TestClient, write_headers: Headers, db: Database) -> None:
    response = erase(client, write_headers, channel="EMAIL", address="a@example.com")
    assert response.status_code == 403
    assert count_rows(db, "erasures") == 0


def test_the_database_lets_through_only_a_complete_redaction(
    client: TestClient, make: Catalog, write_headers: Headers, db: Database
) -> None:
    newsletter = make.type()
    statuses(client, write_headers, "fay@example.com", newsletter, "SUBSCRIBED")
    redaction = "address = NULL, legal_basis_explanation = NULL, ip = NULL, user_agent = NULL, notice_text = NULL"
    for statement in (
        f"UPDATE ledger_events SET {redaction}, redacted = true, new_status = 'UNSUBSCRIBED'",
        f"UPDATE ledger_events SET {redaction}, redacted = true, at = CURRENT_TIMESTAMP",
        f"UPDATE ledger_events SET {redaction}",  # not marked as redacted
        "DELETE FROM ledger_events WHERE redacted = true OR redacted = false",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.write() as conn:
            conn.execute(sa.text(statement))
    with db.write() as conn:
        conn.execute(sa.text(f"UPDATE ledger_events SET {redaction}, redacted = true"))
    with db.read() as conn:
        row = conn.execute(sa.text("SELECT address, new_status, redacted FROM ledger_events")).one()
    assert (row.address, row.new_status, bool(row.redacted)) == (None, "SUBSCRIBED", True)


def test_it_clears_the_address_from_bulk_job_reports(
    client: TestClient, make: Catalog, admin_headers: Headers, db: Database
) -> None:
    newsletter = make.type()
    job = start(
        client, admin_headers, addresses=[DANA, "other@example.com"], status="UNSUBSCRIBED",
        subscription_type_ids=[newsletter],
    ).json()  # fmt: skip
    run_jobs(db)
    assert erase(client, admin_headers, channel="EMAIL", address=DANA).json()["other_records_cleared"] == 2
    report = outcomes(client, admin_headers, job["id"])
    assert [(r["address"], r["outcome"]) for r in report] == [("", "CHANGED"), ("other@example.com", "CHANGED")]
    assert "dana" not in client.get(f"/api/v1/jobs/{job['id']}/outcomes", headers=admin_headers).text.lower()
