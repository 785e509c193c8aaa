"""`/api/v1/imports` (R21, R34): opt-out lists and contacts from CSV, through the API.

Every test runs on SQLite and PostgreSQL with the job run by a real `Worker`.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assent.jobs.worker import Worker
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"


def upload(
    client: TestClient, headers: dict[str, str], content: bytes | str, kind: str = "OPT_OUTS", **fields: Any
) -> Any:
    data = {"kind": kind, **{k: str(v) for k, v in fields.items()}}
    raw = content.encode() if isinstance(content, str) else content
    return client.post("/api/v1/imports", data=data, files={"file": ("list.csv", raw, "text/csv")}, headers=headers)


def confirm_and_run(client: TestClient, db: Database, headers: dict[str, str], created: dict[str, Any]) -> Any:
    confirmed = client.post(
        f"/api/v1/imports/{created['id']}/confirm", json={"row_count": created["row_count"]}, headers=headers
    )
    assert confirmed.status_code == 202, confirmed.text
    assert confirmed.json()["status"] == "QUEUED"
    Worker(db, chunk_size=2).run_until_idle()
    return client.get(f"/api/v1/imports/{created['id']}", headers=headers).json()


def decision(client: TestClient, headers: dict[str, str], address: str, type_id: int) -> Any:
    return client.get(
        "/api/v1/decisions", params={"address": address, "subscription_type_id": type_id}, headers=headers
    ).json()


def errors(client: TestClient, headers: dict[str, str], import_id: str) -> list[dict[str, str]]:
    response = client.get(f"/api/v1/imports/{import_id}/errors", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[0] == "line,column,value,reason"
    return list(csv.DictReader(io.StringIO(response.text)))


def test_it_imports_an_opt_out_list_after_the_row_count_is_confirmed(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    client.put(f"/api/v1/subscribers/EMAIL/{CAROL}/unsubscribe-all", headers=write_headers)  # already opted out
    events_before = count_rows(db, "ledger_events")
    content = f"Email\n{ALICE}\nnot an address\nBob@Example.com\n\n{CAROL}\n{ALICE}\n"
    created = upload(client, write_headers, content)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "AWAITING_CONFIRMATION"
    assert body["row_count"] == 5
    assert body["columns"] == ["Email"]
    assert body["mapping"] == {"Email": "email"}
    assert body["sample"][0] == {"Email": ALICE}
    assert {k: body["predicted"][k] for k in ("CHANGED", "UNCHANGED", "REFUSED", "INVALID")} == {
        "CHANGED": 2,
        "UNCHANGED": 2,
        "REFUSED": 0,
        "INVALID": 1,
    }
    # Nothing has changed yet: the dry run wrote nothing.
    assert decision(client, write_headers, ALICE, newsletter)["allowed"] is True
    assert count_rows(db, "ledger_events") == events_before

    wrong = client.post(f"/api/v1/imports/{body['id']}/confirm", json={"row_count": 4}, headers=write_headers)
    assert wrong.status_code == 409
    assert wrong.json()["code"] == "ROW_COUNT_MISMATCH"
    assert client.get(f"/api/v1/imports/{body['id']}", headers=write_headers).json()["status"] == "AWAITING_CONFIRMATION"

    done = confirm_and_run(client, db, write_headers, body)
    assert done["status"] == "DONE"
    assert done["counts"] == {"CHANGED": 2, "UNCHANGED": 2, "REFUSED": 0, "INVALID": 1}
    assert done["progress"] == {"done": 5, "total": 5}
    for address in (ALICE, BOB, CAROL):
        assert decision(client, write_headers, address, newsletter)["reasons"] == ["UNSUBSCRIBED_FROM_ALL"]
    assert count_rows(db, "contacts") == 0  # an opt-out list creates no contacts
    history = client.get(f"/api/v1/subscribers/EMAIL/{BOB}/history", headers=write_headers).json()["results"]
    assert [(e["source"], e["actor_kind"], e["job_id"]) for e in history] == [("IMPORT", "IMPORT", done["job_id"])]
    assert count_rows(db, "ledger_events") == events_before + 2
    assert count_rows(db, "import_chunks") == 0  # the stored file goes once the import is done
    assert errors(client, write_headers, body["id"]) == [
        {"line": "3", "column": "Email", "value": "not an address", "reason": "INVALID_ADDRESS: not a valid address"}
    ]

    # The same file again: every line unchanged, no new event.
    again = upload(client, write_headers, content).json()
    assert again["predicted"]["CHANGED"] == 0
    rerun = confirm_and_run(client, db, write_headers, again)
    assert rerun["counts"] == {"CHANGED": 0, "UNCHANGED": 4, "REFUSED": 0, "INVALID": 1}
    assert count_rows(db, "ledger_events") == events_before + 2


def test_it_imports_contacts_and_never_resubscribes(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter, offers = make.type("Newsletter"), make.type("Offers")
    client.post(
        f"/api/v1/subscribers/EMAIL/{BOB}/statuses",
        json={"changes": [{"subscription_type_id": newsletter, "status": "UNSUBSCRIBED"}]},
        headers=write_headers,
    )
    client.put(f"/api/v1/subscribers/EMAIL/{CAROL}/unsubscribe-all", headers=write_headers)
    existing = client.post("/api/v1/contacts", json={"email": ALICE, "first_name": "Al"}, headers=write_headers)
    assert existing.status_code == 201, existing.text
    content = (
        f"email,First Name,last_name,Plan,subscription:{newsletter},subscription:{offers}\n"
        f"{ALICE},Alice,Smith,gold,opt in,not opted\n"
        f"{BOB},Bob,Jones,silver,SUBSCRIBED,Opt Out\n"
        f"{CAROL},Carol,,,subscribed,\n"
        f"dave@example.com,Dave,,,maybe,\n"
        f"erin@example.com,Erin\n"
    )
    created = upload(client, write_headers, content, kind="CONTACTS")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["mapping"] == {
        "email": "email",
        "First Name": "first_name",
        "last_name": "last_name",
        "Plan": "property:Plan",
        f"subscription:{newsletter}": f"subscription:{newsletter}",
        f"subscription:{offers}": f"subscription:{offers}",
    }
    done = confirm_and_run(client, db, write_headers, body)
    assert done["status"] == "DONE", done
    assert done["counts"]["INVALID"] == 2  # dave's "maybe", erin's ragged line
    assert decision(client, write_headers, ALICE, newsletter)["allowed"] is True
    assert decision(client, write_headers, BOB, newsletter)["reasons"] == ["UNSUBSCRIBED"]  # not resubscribed
    assert decision(client, write_headers, BOB, offers)["reasons"] == ["UNSUBSCRIBED"]  # opting out works
    assert decision(client, write_headers, CAROL, newsletter)["reasons"] == ["UNSUBSCRIBED_FROM_ALL"]
    contacts = client.get("/api/v1/contacts", headers=write_headers).json()["results"]
    by_email = {c["email"]: c for c in contacts}
    assert sorted(by_email) == [ALICE, BOB, CAROL]  # alice updated, not duplicated; dave, erin invalid
    assert by_email[ALICE]["id"] == existing.json()["id"]
    assert (by_email[ALICE]["first_name"], by_email[ALICE]["properties"]) == ("Alice", {"Plan": "gold"})
    report = {(r["line"], r["column"]): r["reason"].split(":")[0] for r in errors(client, write_headers, body["id"])}
    assert report == {
        ("3", f"subscription:{newsletter}"): "IMPORT_CANNOT_RESUBSCRIBE",
        ("4", f"subscription:{newsletter}"): "WIDE_OPT_OUT_IN_FORCE",
        ("5", f"subscription:{newsletter}"): "UNKNOWN_STATUS",
        ("6", ""): "RAGGED_LINE",
    }


def test_it_refuses_a_latin1_file_naming_the_line_and_stores_nothing(
    client: TestClient, db: Database, write_headers: dict[str, str]
) -> None:
    content = "email\nalice@example.com\nbjörn@example.se\n".encode("latin-1")
    response = upload(client, write_headers, content)
    assert response.status_code == 422
    problem = response.json()
    assert (problem["code"], problem["field"]) == ("NOT_UTF8", "file")
    assert "line 3" in problem["detail"]
    assert count_rows(db, "imports") == 0


def test_it_refuses_utf16_files(client: TestClient, write_headers: dict[str, str]) -> None:
    response = upload(client, write_headers, "email\nalice@example.com\n".encode("utf-16"))
    assert response.status_code == 422
    assert "UTF-16" in response.json()["detail"]


def test_it_reads_a_semicolon_file_with_a_bom(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    content = "\ufeffname;email\nAlice;alice@example.com\nBob;bob@example.com\n".encode()
    created = upload(client, write_headers, content)
    assert created.status_code == 201, created.text
    assert created.json()["columns"] == ["name", "email"]
    done = confirm_and_run(client, db, write_headers, created.json())
    assert done["counts"]["CHANGED"] == 2
    assert decision(client, write_headers, BOB, newsletter)["reasons"] == ["UNSUBSCRIBED_FROM_ALL"]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("", "EMPTY_FILE"),
        ("email\n", "EMPTY_FILE"),
        ("name,city\nAlice,Oslo\n", "NO_ADDRESS_COLUMN"),
    ],
)
def test_it_refuses_files_it_cannot_import(
    client: TestClient, db: Database, write_headers: dict[str, str], content: str, code: str
) -> None:
    response = upload(client, write_headers, content)
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == (code, "file")
    assert count_rows(db, "imports") == 0


def test_in_data_privacy_mode_a_file_that_subscribes_needs_a_legal_basis(
    client: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    client.patch("/api/v1/settings", json={"data_privacy_mode": True}, headers=admin_headers)
    content = f"email,subscription:{newsletter}\n{ALICE},SUBSCRIBED\n"
    refused = upload(client, admin_headers, content, kind="CONTACTS")
    assert refused.status_code == 422
    assert refused.json()["field"] == "legal_basis"
    assert count_rows(db, "imports") == 0
    accepted = upload(
        client,
        admin_headers,
        content,
        kind="CONTACTS",
        legal_basis="CONSENT_WITH_NOTICE",
        legal_basis_explanation="Signed up at the 2026 fair",
        processing_legal_basis="CONSENT_WITH_NOTICE",
    )
    assert accepted.status_code == 201, accepted.text
    confirm_and_run(client, db, admin_headers, accepted.json())
    assert decision(client, admin_headers, ALICE, newsletter)["allowed"] is True


def test_cancelling_discards_the_stored_file(client: TestClient, db: Database, write_headers: dict[str, str]) -> None:
    created = upload(client, write_headers, f"email\n{ALICE}\n").json()
    assert count_rows(db, "import_chunks") == 1
    cancelled = client.delete(f"/api/v1/imports/{created['id']}", headers=write_headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "CANCELLED"
    assert count_rows(db, "import_chunks") == 0
    late = client.post(f"/api/v1/imports/{created['id']}/confirm", json={"row_count": 1}, headers=write_headers)
    assert late.status_code == 409
    listed = client.get("/api/v1/imports", headers=write_headers).json()
    assert [i["id"] for i in listed["results"]] == [created["id"]]


def test_an_unknown_type_column_is_reported_and_the_rest_applied(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    created = upload(
        client, write_headers, f"email,subscription:999\n{ALICE},SUBSCRIBED\n", kind="CONTACTS"
    ).json()
    assert created["mapping"]["subscription:999"] == "ignore"
    done = confirm_and_run(client, db, write_headers, created)
    assert done["status"] == "DONE"
    assert [(r["line"], r["reason"].split(":")[0]) for r in errors(client, write_headers, created["id"])] == [
        ("1", "UNKNOWN_SUBSCRIPTION_TYPE")
    ]
    assert decision(client, write_headers, ALICE, newsletter)["allowed"] is True


def test_it_refuses_a_file_that_ends_inside_a_character(
    client: TestClient, db: Database, write_headers: dict[str, str]
) -> None:
    response = upload(client, write_headers, b"email\nalice@example.com\n\xc2")
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("NOT_UTF8", "file")
    assert count_rows(db, "imports") == 0
