"""`/api/v1/workflows` (R23): triggers, actions through the same rules, and the run log.

Every test runs on SQLite and PostgreSQL; enrollments are run by a real `Worker`.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from assent.domain.model import Channel
from assent.jobs.worker import Worker
from assent.storage.db import Database
from tests.conftest import Catalog

EXPLAINED = {"legal_basis": "LEGITIMATE_INTEREST_CLIENT", "legal_basis_explanation": "Customers of 2026"}


def workflow(
    client: TestClient, headers: dict[str, str], trigger: dict[str, Any], *actions: dict[str, Any], **extra: Any
) -> Any:
    response = client.post(
        "/api/v1/workflows",
        json={"name": "Welcome", "trigger": trigger, "actions": list(actions), **extra},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def subscribe(type_id: int, status: str = "SUBSCRIBED", **extra: Any) -> dict[str, Any]:
    return {
        "type": "SET_SUBSCRIPTION_STATUS",
        "channel": "EMAIL",
        "subscription_type_id": type_id,
        "status": status,
        **extra,
    }


def contact(client: TestClient, headers: dict[str, str], **fields: Any) -> int:
    response = client.post("/api/v1/contacts", json=fields, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def runs(client: TestClient, headers: dict[str, str], workflow_id: int, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/workflows/{workflow_id}/runs", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def allowed(client: TestClient, headers: dict[str, str], address: str, type_id: int) -> Any:
    return client.get(
        "/api/v1/decisions", params={"address": address, "subscription_type_id": type_id}, headers=headers
    ).json()


def test_a_manual_enrollment_opts_in_but_never_resubscribes(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    alice = contact(client, write_headers, email="Alice@Example.com")
    bob = contact(client, write_headers, email="bob@example.com")
    phone_only = contact(client, write_headers, phone="+46701234567")
    client.post(
        "/api/v1/subscribers/EMAIL/bob@example.com/statuses",
        json={"changes": [{"subscription_type_id": newsletter, "status": "UNSUBSCRIBED"}]},
        headers=write_headers,
    )
    made = workflow(client, write_headers, {"type": "MANUAL"}, subscribe(newsletter, **EXPLAINED))
    enrolled = client.post(
        f"/api/v1/workflows/{made['id']}/enroll", json={"contact_ids": [alice, bob, phone_only]}, headers=write_headers
    )
    assert enrolled.status_code == 202, enrolled.text
    Worker(db, chunk_size=2).run_until_idle()

    log = runs(client, write_headers, made["id"])
    outcome = {r["contact_id"]: (r["actions"][0]["outcome"], r["actions"][0]["reason"]) for r in log}
    assert outcome == {
        alice: ("CHANGED", None),
        bob: ("REFUSED", "WORKFLOW_CANNOT_RESUBSCRIBE"),
        phone_only: ("REFUSED", "NO_ADDRESS_ON_CHANNEL"),
    }
    assert all(r["finished_at"] for r in log)
    assert client.get(f"/api/v1/workflows/{made['id']}", headers=write_headers).json()["counts"] == {
        "CHANGED": 1,
        "UNCHANGED": 0,
        "REFUSED": 2,
    }
    assert [r["contact_id"] for r in runs(client, write_headers, made["id"], reason="WORKFLOW_CANNOT_RESUBSCRIBE")] == [
        bob
    ]
    assert allowed(client, write_headers, "alice@example.com", newsletter)["allowed"] is True
    assert allowed(client, write_headers, "bob@example.com", newsletter)["reasons"] == ["UNSUBSCRIBED"]
    history = client.get("/api/v1/subscribers/EMAIL/alice@example.com/history", headers=write_headers).json()
    [event] = [e for e in history["results"] if e["source"] == "WORKFLOW"]
    assert (event["workflow_id"], event["actor_kind"], event["address"]) == (
        made["id"],
        "WORKFLOW",
        "Alice@example.com",
    )

    # Enrolled once: enrolling again is accepted and skips them (reenroll is off).
    again = client.post(f"/api/v1/workflows/{made['id']}/enroll", json={"contact_ids": [alice]}, headers=write_headers)
    assert again.status_code == 202
    Worker(db).run_until_idle()
    assert len(runs(client, write_headers, made["id"])) == 3


def test_reenroll_lets_a_contact_run_again(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    alice = contact(client, write_headers, email="alice@example.com")
    made = workflow(client, write_headers, {"type": "MANUAL"}, subscribe(newsletter), reenroll=True)
    for _ in range(2):
        client.post(f"/api/v1/workflows/{made['id']}/enroll", json={"contact_ids": [alice]}, headers=write_headers)
        Worker(db).run_until_idle()
    assert [r["actions"][0]["outcome"] for r in runs(client, write_headers, made["id"])] == ["CHANGED", "UNCHANGED"]


def test_a_disabled_workflow_enrolls_no_one(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    made = workflow(client, write_headers, {"type": "CONTACT_CREATED"}, subscribe(newsletter), enabled=False)
    contact(client, write_headers, email="alice@example.com")
    refused = client.post(f"/api/v1/workflows/{made['id']}/enroll", json={"contact_ids": [1]}, headers=write_headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "WORKFLOW_DISABLED"
    # Enabling it does not enroll the past.
    client.patch(f"/api/v1/workflows/{made['id']}", json={"enabled": True}, headers=write_headers)
    Worker(db).run_until_idle()
    assert runs(client, write_headers, made["id"]) == []
    contact(client, write_headers, email="bob@example.com")
    Worker(db).run_until_idle()
    assert [r["address"] for r in runs(client, write_headers, made["id"])] == ["bob@example.com"]


def test_property_changed_fires_when_the_value_is_set(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    made = workflow(
        client, write_headers, {"type": "PROPERTY_CHANGED", "property": "plan", "value": "gold"}, subscribe(newsletter)
    )
    alice = contact(client, write_headers, email="alice@example.com", properties={"plan": "silver"})
    Worker(db).run_until_idle()
    assert runs(client, write_headers, made["id"]) == []
    client.patch(f"/api/v1/contacts/{alice}", json={"properties": {"plan": "gold"}}, headers=write_headers)
    Worker(db).run_until_idle()
    [run] = runs(client, write_headers, made["id"])
    assert (run["contact_id"], run["trigger"], run["actions"][0]["outcome"]) == (alice, "PROPERTY_CHANGED", "CHANGED")


def test_in_data_privacy_mode_an_opt_in_action_needs_its_evidence(
    client: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    plain = workflow(client, admin_headers, {"type": "MANUAL"}, subscribe(newsletter))
    client.patch("/api/v1/settings", json={"data_privacy_mode": True}, headers=admin_headers)
    refused = client.post(
        "/api/v1/workflows",
        json={"name": "No basis", "trigger": {"type": "MANUAL"}, "actions": [subscribe(newsletter)]},
        headers=admin_headers,
    )
    assert refused.status_code == 422
    assert refused.json()["field"] == "actions[0].legal_basis"
    # The workflow saved before the mode was turned on refuses per contact instead.
    alice = contact(client, admin_headers, email="alice@example.com")
    client.post(f"/api/v1/workflows/{plain['id']}/enroll", json={"contact_ids": [alice]}, headers=admin_headers)
    Worker(db).run_until_idle()
    [run] = runs(client, admin_headers, plain["id"])
    assert (run["actions"][0]["outcome"], run["actions"][0]["reason"]) == ("REFUSED", "LEGAL_BASIS_REQUIRED")
    assert allowed(client, admin_headers, "alice@example.com", newsletter)["allowed"] is False


def test_it_refuses_under_a_wide_opt_out_and_can_set_one(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    alice = contact(client, write_headers, email="alice@example.com")
    carol = contact(client, write_headers, email="carol@example.com")
    client.put("/api/v1/subscribers/EMAIL/carol@example.com/unsubscribe-all", headers=write_headers)
    made = workflow(
        client,
        write_headers,
        {"type": "MANUAL"},
        subscribe(newsletter),
        {"type": "SET_UNSUBSCRIBE_ALL", "channel": "EMAIL", "business_unit_id": 0},
    )
    client.post(f"/api/v1/workflows/{made['id']}/enroll", json={"contact_search": {"q": ""}}, headers=write_headers)
    Worker(db).run_until_idle()
    log = {
        r["contact_id"]: [(a["type"], a["outcome"], a["reason"]) for a in r["actions"]]
        for r in runs(client, write_headers, made["id"])
    }
    assert log[carol] == [
        ("SET_SUBSCRIPTION_STATUS", "REFUSED", "WIDE_OPT_OUT_IN_FORCE"),
        ("SET_UNSUBSCRIBE_ALL", "UNCHANGED", None),
    ]
    assert log[alice] == [("SET_SUBSCRIPTION_STATUS", "CHANGED", None), ("SET_UNSUBSCRIBE_ALL", "CHANGED", None)]
    assert allowed(client, write_headers, "alice@example.com", newsletter)["reasons"] == ["UNSUBSCRIBED_FROM_ALL"]


def test_a_deleted_workflow_keeps_its_run_log(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    alice = contact(client, write_headers, email="alice@example.com")
    made = workflow(client, write_headers, {"type": "MANUAL"}, subscribe(newsletter))
    client.post(f"/api/v1/workflows/{made['id']}/enroll", json={"contact_ids": [alice]}, headers=write_headers)
    Worker(db).run_until_idle()
    assert client.delete(f"/api/v1/workflows/{made['id']}", headers=write_headers).status_code == 204
    assert client.get(f"/api/v1/workflows/{made['id']}", headers=write_headers).status_code == 404
    assert [r["contact_id"] for r in runs(client, write_headers, made["id"])] == [alice]


def test_it_names_the_field_of_a_bad_action(client: TestClient, make: Catalog, write_headers: dict[str, str]) -> None:
    sms = make.type("SMS offers", channel=Channel.SMS)
    response = client.post(
        "/api/v1/workflows",
        json={"name": "Bad", "trigger": {"type": "MANUAL"}, "actions": [subscribe(sms), subscribe(999)]},
        headers=write_headers,
    )
    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == ["actions[0].subscription_type_id", "actions[1].subscription_type_id"]


def test_contacts_created_by_an_import_are_enrolled(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    made = workflow(client, write_headers, {"type": "CONTACT_CREATED"}, subscribe(newsletter))
    content = b"email,first_name\nalice@example.com,Alice\nbob@example.com,Bob\n"
    created = client.post(
        "/api/v1/imports",
        data={"kind": "CONTACTS"},
        files={"file": ("contacts.csv", content, "text/csv")},
        headers=write_headers,
    ).json()
    client.post(f"/api/v1/imports/{created['id']}/confirm", json={"row_count": 2}, headers=write_headers)
    Worker(db).run_until_idle()
    log = runs(client, write_headers, made["id"])
    assert sorted((r["address"], r["trigger"], r["actions"][0]["outcome"]) for r in log) == [
        ("alice@example.com", "CONTACT_CREATED", "CHANGED"),
        ("bob@example.com", "CONTACT_CREATED", "CHANGED"),
    ]


def test_a_form_submission_creates_the_contact_and_enrolls_it(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter, offers = make.type("Newsletter"), make.type("Offers")
    on_form = workflow(
        client, write_headers, {"type": "FORM_SUBMITTED", "business_unit_id": 0}, subscribe(offers, **EXPLAINED)
    )
    on_created = workflow(client, write_headers, {"type": "CONTACT_CREATED"}, subscribe(offers, **EXPLAINED))
    elsewhere = workflow(
        client, write_headers, {"type": "FORM_SUBMITTED", "business_unit_id": make.business_unit()}, subscribe(offers)
    )
    body = {
        "address": "Dana@Example.com",
        "subscription_type_ids": [newsletter],
        "consent": True,
        "notice_text": "Monthly news",
    }
    assert client.post("/api/v1/form-submissions", json=body, headers=write_headers).status_code == 202
    Worker(db).run_until_idle()
    [contact_row] = client.get("/api/v1/contacts", headers=write_headers).json()["results"]
    assert contact_row["email"] == "Dana@example.com"
    assert [(r["contact_id"], r["trigger"]) for r in runs(client, write_headers, on_form["id"])] == [
        (contact_row["id"], "FORM_SUBMITTED")
    ]
    assert [r["trigger"] for r in runs(client, write_headers, on_created["id"])] == ["CONTACT_CREATED"]
    assert runs(client, write_headers, elsewhere["id"]) == []
    # A second submission finds the same contact: the form fires again, no contact is created.
    assert client.post("/api/v1/form-submissions", json=body, headers=write_headers).status_code == 202
    Worker(db).run_until_idle()
    assert len(client.get("/api/v1/contacts", headers=write_headers).json()["results"]) == 1
    assert len(runs(client, write_headers, on_created["id"])) == 1
