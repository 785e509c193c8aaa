"""Bulk updates (R20) through the API, run by a worker, reported per address (R9)."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.testclient import TestClient

from assent.actions import subscriptions
from assent.app import create_app
from assent.config import Settings
from assent.domain.model import Actor, Channel, Evidence, Source
from assent.services.contacts import create_contact
from assent.services.ledger import RequestContext
from assent.services.state import load_account
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows
from tests.jobs.helpers import EXPLAINED, by_address, job, outcomes, run_jobs, start

ALICE, BOB, CAROL = "Alice@Example.com", "bob@example.com", "carol@example.com"


def subscribe(client: TestClient, headers: dict[str, str], address: str, type_id: int, status: str) -> None:
    body = {"changes": [{"subscription_type_id": type_id, "status": status}], **EXPLAINED}
    response = client.post(f"/api/v1/subscribers/EMAIL/{address}/statuses", json=body, headers=headers)
    assert response.json()["results"][0]["outcome"] == "CHANGED", response.text


def opt_out_of_all_as_the_contact(db: Database, address: str) -> None:
    subscriptions.set_unsubscribe_all(
        db,
        channel=Channel.EMAIL,
        raw_address=address,
        business_unit_id=0,
        actor=Actor(Source.PREFERENCE_CENTER),
        evidence=Evidence(),
        context=RequestContext(),
    )


def test_it_runs_a_bulk_update_as_a_job_and_reports_every_address(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    newsletter, product = make.type("Newsletter"), make.type("Product updates")
    subscribe(client, write_headers, ALICE, newsletter, "SUBSCRIBED")

    created = start(
        client,
        write_headers,
        addresses=[ALICE, BOB, "not an address", CAROL],
        status="SUBSCRIBED",
        subscription_type_ids=[newsletter, product],
    )
    assert created.status_code == 202, created.text
    queued = created.json()
    assert created.headers["location"] == f"/api/v1/jobs/{queued['id']}"
    assert (queued["kind"], queued["status"], queued["progress"]) == ("BULK_UPDATE", "QUEUED", {"done": 0, "total": 4})
    assert count_rows(db, "ledger_events") == 1  # nothing is applied before a worker runs

    worker = run_jobs(db, chunk_size=3)
    assert worker.chunks == {queued["id"]: 2}

    finished = job(client, read_headers, queued["id"])
    assert finished["status"] == "SUCCEEDED"
    assert finished["progress"] == {"done": 4, "total": 4}
    assert finished["counts"] == {"CHANGED": 5, "UNCHANGED": 1, "REFUSED": 1, "by_reason": {"INVALID_ADDRESS": 1}}
    assert finished["started_at"] <= finished["finished_at"]
    assert finished["error"] is None

    rows = outcomes(client, read_headers, queued["id"])
    assert [(r["seq"], r["subscription_type_id"]) for r in rows] == [
        ("1", str(newsletter)), ("1", str(product)), ("2", str(newsletter)), ("2", str(product)),
        ("3", "0"), ("4", str(newsletter)), ("4", str(product)),
    ]  # fmt: skip
    assert by_address(rows)["Alice@example.com"] == [
        (str(newsletter), "UNCHANGED", ""), (str(product), "CHANGED", "")
    ]  # fmt: skip
    assert rows[4]["address"] == "not an address"
    assert (rows[4]["outcome"], rows[4]["reason"]) == ("REFUSED", "INVALID_ADDRESS")
    assert [r["address"] for r in outcomes(client, read_headers, queued["id"], outcome="REFUSED")] == [
        "not an address"
    ]
    ndjson = client.get(
        f"/api/v1/jobs/{queued['id']}/outcomes", headers={**read_headers, "Accept": "application/x-ndjson"}
    )
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line)["outcome"] for line in ndjson.text.splitlines()] == [r["outcome"] for r in rows]

    # Every change is in the ledger once, as the job's (a user's bulk act), with its job id.
    events = client.get("/api/v1/events", params={"limit": 100}, headers=read_headers).json()["results"]
    by_job = [e for e in events if e["job_id"] == queued["id"]]
    assert len(by_job) == 5
    assert {(e["source"], e["actor_kind"]) for e in by_job} == {("BULK", "USER")}
    bob = client.get(f"/api/v1/subscribers/EMAIL/{BOB}", headers=read_headers).json()
    assert [s["status"] for s in bob["statuses"]] == ["SUBSCRIBED", "SUBSCRIBED"]

    listed = client.get("/api/v1/jobs", params={"limit": 1}, headers=read_headers).json()
    assert [j["id"] for j in listed["results"]] == [queued["id"]]
    assert client.get("/api/v1/jobs/job_000000000000000000000000", headers=read_headers).status_code == 404


def test_it_reports_refusals_per_address_with_their_reasons(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type("Newsletter")
    subscribe(client, write_headers, "erin@example.com", newsletter, "UNSUBSCRIBED")
    opt_out_of_all_as_the_contact(db, "dave@example.com")
    with db.write() as conn:
        account = load_account(conn)
        ids = [
            create_contact(conn, account, values)["id"]
            for values in (
                {"email": "dave@example.com"},
                {"email": "erin@example.com"},
                {"phone": "+46701234567"},
                {"email": "heidi@example.com"},
            )
        ]

    # An import acting through the API: it may opt in, never resubscribe (R5), and nobody but
    # the contact lifts their own "unsubscribe from all" (R7).
    created = start(
        client,
        write_headers,
        contact_ids=[*ids, 999_999],
        status="SUBSCRIBED",
        subscription_type_ids=[newsletter],
        source="IMPORT",
    )
    assert created.status_code == 202, created.text
    run_jobs(db)
    rows = outcomes(client, write_headers, created.json()["id"])
    assert [(r["contact_id"], r["outcome"], r["reason"]) for r in rows] == [
        (str(ids[0]), "REFUSED", "WIDE_OPT_OUT_IN_FORCE"),
        (str(ids[1]), "REFUSED", "IMPORT_CANNOT_RESUBSCRIBE"),
        (str(ids[2]), "REFUSED", "NO_ADDRESS"),
        (str(ids[3]), "CHANGED", ""),
        ("999999", "REFUSED", "CONTACT_NOT_FOUND"),
    ]
    assert rows[2]["detail"] == f"contact {ids[2]} has no email address"
    counts = job(client, write_headers, created.json()["id"])["counts"]
    assert counts["by_reason"] == {
        "CONTACT_NOT_FOUND": 1, "IMPORT_CANNOT_RESUBSCRIBE": 1, "NO_ADDRESS": 1, "WIDE_OPT_OUT_IN_FORCE": 1
    }  # fmt: skip

    # A user resubscribing without saying why is refused for that address only (R5).
    unexplained = start(client, write_headers, addresses=["erin@example.com"], status="SUBSCRIBED",
                        subscription_type_ids=[newsletter])  # fmt: skip
    run_jobs(db)
    assert [(r["outcome"], r["reason"]) for r in outcomes(client, write_headers, unexplained.json()["id"])] == [
        ("REFUSED", "EXPLANATION_REQUIRED")
    ]
    erin = client.get("/api/v1/subscribers/EMAIL/erin@example.com", headers=write_headers).json()
    assert erin["statuses"][0]["status"] == "UNSUBSCRIBED"


def test_it_selects_the_contacts_a_search_finds(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter, product = make.type("Newsletter"), make.type("Product updates")
    subscribe(client, write_headers, BOB, newsletter, "SUBSCRIBED")
    for values in ({"email": ALICE}, {"email": BOB}, {"phone": "+46701234567"}, {"email": "zed@other.org"}):
        assert client.post("/api/v1/contacts", json=values, headers=write_headers).status_code == 201
    # The same filters as GET /api/v1/contacts; contacts without an email are not selected.
    subscribed = start(client, write_headers, contact_search={"subscription_type_id": newsletter, "status": "SUBSCRIBED"},
                       status="SUBSCRIBED", subscription_type_ids=[product])  # fmt: skip
    by_domain = start(client, write_headers, contact_search={"q": "example.com"}, status="UNSUBSCRIBED",
                      subscription_type_ids=[newsletter])  # fmt: skip
    assert (subscribed.json()["progress"]["total"], by_domain.json()["progress"]["total"]) == (1, 2)
    assert subscribed.json()["params"]["selection"] == {
        "kind": "contact_search",
        "search": {"q": None, "subscription_type_id": newsletter, "status": "SUBSCRIBED", "business_unit_id": None},
    }
    run_jobs(db)
    assert [(r["address"], r["outcome"]) for r in outcomes(client, write_headers, subscribed.json()["id"])] == [
        (BOB, "CHANGED")
    ]
    assert [(r["address"], r["outcome"]) for r in outcomes(client, write_headers, by_domain.json()["id"])] == [
        ("Alice@example.com", "CHANGED"), (BOB, "CHANGED")
    ]  # fmt: skip
    unknown = start(client, write_headers, contact_search={"subscription_type_id": 4242}, status="SUBSCRIBED",
                    subscription_type_ids=[newsletter])  # fmt: skip
    assert (unknown.status_code, unknown.json()["field"]) == (422, "contact_search.subscription_type_id")
    assert count_rows(db, "jobs") == 2


def test_it_refuses_a_bad_request_with_422_and_queues_nothing(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    newsletter, sms = make.type("Newsletter"), make.type("Texts", Channel.SMS)
    wrong = start(
        client, write_headers, addresses=[BOB], status="SUBSCRIBED", subscription_type_ids=[newsletter, sms, 4242]
    )
    assert wrong.status_code == 422
    assert [(e["field"], e["code"]) for e in wrong.json()["errors"]] == [
        ("subscription_type_ids[1]", "WRONG_CHANNEL"),
        ("subscription_type_ids[2]", "UNKNOWN_SUBSCRIPTION_TYPE"),
    ]
    both = start(client, write_headers, addresses=[BOB], contact_ids=[1], status="UNSUBSCRIBED",
                 subscription_type_ids=[newsletter])  # fmt: skip
    assert (both.status_code, both.json()["field"]) == (422, "selection")
    too_many = start(client, write_headers, addresses=[BOB] * 100_001, status="UNSUBSCRIBED",
                     subscription_type_ids=[newsletter])  # fmt: skip
    assert (too_many.status_code, too_many.json()["field"]) == (422, "addresses")

    # Data privacy mode: an opt-in needs a legal basis whatever the address's state (R6).
    client.patch("/api/v1/settings", json={"data_privacy_mode": True}, headers=admin_headers)
    unlawful = start(client, write_headers, addresses=[BOB], status="SUBSCRIBED",
                     subscription_type_ids=[newsletter], **EXPLAINED)  # fmt: skip
    assert unlawful.status_code == 422
    assert (unlawful.json()["code"], unlawful.json()["field"]) == ("LEGAL_BASIS_REQUIRED", "legal_basis")
    assert (count_rows(db, "jobs"), count_rows(db, "job_targets")) == (0, 0)

    lawful = start(client, write_headers, addresses=[BOB], status="SUBSCRIBED", subscription_type_ids=[newsletter],
                   legal_basis="LEGITIMATE_INTEREST_CLIENT", **EXPLAINED)  # fmt: skip
    assert lawful.status_code == 202
    run_jobs(db)
    # The processing basis is stored per address, so its lack is that address's refusal.
    assert outcomes(client, write_headers, lawful.json()["id"])[0]["reason"] == "PROCESSING_LEGAL_BASIS_REQUIRED"


def test_it_sets_and_removes_wide_opt_outs_in_bulk(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    brand = make.business_unit("Brand")
    make.type("Brand news", business_unit_id=brand)
    opt_out_of_all_as_the_contact(db, "dave@example.com")
    set_all = start(client, write_headers, operation="SET_WIDE_OPT_OUT", business_unit_id=0,
                    addresses=[ALICE, BOB, "dave@example.com"])  # fmt: skip
    assert set_all.status_code == 202, set_all.text
    run_jobs(db)
    assert [(r["outcome"], r["subscription_type_id"]) for r in outcomes(client, write_headers, set_all.json()["id"])] == [
        ("CHANGED", "0"), ("CHANGED", "0"), ("UNCHANGED", "0")
    ]  # fmt: skip

    unexplained = start(client, write_headers, operation="REMOVE_WIDE_OPT_OUTS", business_unit_id=0, addresses=[BOB])
    assert (unexplained.status_code, unexplained.json()["code"]) == (422, "EXPLANATION_REQUIRED")
    no_such_brand = start(client, write_headers, operation="REMOVE_WIDE_OPT_OUTS", business_unit_id=77,
                          addresses=[BOB], **EXPLAINED)  # fmt: skip
    assert (no_such_brand.status_code, no_such_brand.json()["field"]) == (422, "business_unit_id")

    remove = start(client, write_headers, operation="REMOVE_WIDE_OPT_OUTS", business_unit_id=0,
                   addresses=[BOB, "dave@example.com", CAROL], **EXPLAINED)  # fmt: skip
    run_jobs(db)
    assert [(r["outcome"], r["reason"]) for r in outcomes(client, write_headers, remove.json()["id"])] == [
        ("CHANGED", ""), ("REFUSED", "WIDE_OPT_OUT_SET_BY_CONTACT"), ("UNCHANGED", "")
    ]  # fmt: skip
    bob = client.get(f"/api/v1/subscribers/EMAIL/{BOB}", headers=write_headers).json()
    alice = client.get(f"/api/v1/subscribers/EMAIL/{ALICE}", headers=write_headers).json()
    assert (bob["wide_opt_outs"], [w["set_by"] for w in alice["wide_opt_outs"]]) == ([], ["USER"])


def test_it_creates_one_job_for_a_retried_request(
    client: TestClient, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    headers = {**write_headers, "Idempotency-Key": "bulk-2026-11-26"}
    body: dict[str, Any] = {"addresses": [BOB], "status": "UNSUBSCRIBED", "subscription_type_ids": [newsletter]}
    first, again = start(client, headers, **body), start(client, headers, **body)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]
    assert count_rows(db, "jobs") == 1


def test_it_runs_jobs_inside_the_server_process(
    settings: Settings, db: Database, make: Catalog, write_headers: dict[str, str]
) -> None:
    newsletter = make.type()
    serving = create_app(Settings(**{**settings.__dict__, "run_worker": True}), db)
    with TestClient(serving) as client:
        created = start(client, write_headers, addresses=[BOB, CAROL], status="UNSUBSCRIBED",
                        subscription_type_ids=[newsletter])  # fmt: skip
        deadline = time.monotonic() + 20
        while (state := job(client, write_headers, created.json()["id"]))["status"] != "SUCCEEDED":
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
    assert state["counts"]["CHANGED"] == 2
