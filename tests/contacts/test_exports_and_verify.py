"""CSV exports (API and CLI), `assent demo` and `assent ledger verify`, on both backends."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from assent.cli.main import cli
from assent.domain.model import Actor, Channel, Source
from assent.services import erasure, exports
from assent.services.changes import Writer
from assent.services.ledger import RequestContext
from assent.services.state import load_account
from assent.storage.db import Database
from tests.conftest import Catalog, count_rows

Headers = dict[str, str]


def run(database_url: str, *args: str) -> Result:
    env = {"ASSENT_DATABASE_URL": database_url, "ASSENT_SECRET_KEYS": "test-secret"}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_it_exports_every_suppression_as_csv(
    client: TestClient,
    make: Catalog,
    admin_headers: Headers,
    db: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exports, "BATCH", 2)  # several batches out of a few rows
    newsletter = make.type("Newsletter")
    for name in ("ann", "ben", "cat", "subscribed"):
        status = "SUBSCRIBED" if name == "subscribed" else "UNSUBSCRIBED"
        client.post(
            f"/api/v1/subscribers/EMAIL/{name}@example.com/statuses",
            json={"changes": [{"subscription_type_id": newsletter, "status": status}]},
            headers=admin_headers,
        )
    client.put("/api/v1/subscribers/SMS/+46701234501/unsubscribe-all", headers=admin_headers)
    client.put(
        "/api/v1/subscribers/EMAIL/bounced@example.com/undeliverable",
        json={"legal_basis_explanation": "550 no such user"},
        headers=admin_headers,
    )
    client.post("/api/v1/erasures", json={"channel": "EMAIL", "address": "gone@example.com"}, headers=admin_headers)
    with db.write() as conn:
        account = load_account(conn)
        writer = Writer(db, conn, account, Actor(Source.SPAM_COMPLAINT))
        writer.set_wide_opt_out(Channel.EMAIL, [account.normalize(Channel.EMAIL, "spam@example.com")], 0)
        gone = account.address_hash(Channel.EMAIL, "gone@example.com")

    response = client.get("/api/v1/exports/suppressions", headers=admin_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[0] == ",".join(exports.SUPPRESSION_COLUMNS)
    found = {tuple(r[c] for c in exports.SUPPRESSION_COLUMNS[:7]) for r in rows(response.text)}
    assert found == {
        ("EMAIL", "ann@example.com", "UNSUBSCRIBED", "0", str(newsletter), "API", "USER"),
        ("EMAIL", "ben@example.com", "UNSUBSCRIBED", "0", str(newsletter), "API", "USER"),
        ("EMAIL", "cat@example.com", "UNSUBSCRIBED", "0", str(newsletter), "API", "USER"),
        ("SMS", "+46701234501", "WIDE_OPT_OUT", "0", "", "API", "USER"),
        ("EMAIL", "spam@example.com", "SPAM_COMPLAINT", "0", "", "SPAM_COMPLAINT", "CONTACT"),
        ("EMAIL", "bounced@example.com", "UNDELIVERABLE", "", "", "BOUNCE", "PROVIDER"),
        ("EMAIL", gone, "ERASED", "", "", "ERASURE", "SYSTEM"),
    }
    assert all(r["at"] for r in rows(response.text))

    command = run(database_url, "export", "suppressions")
    assert command.exit_code == 0
    assert command.stdout == response.text


def test_it_exports_the_history_as_csv(
    client: TestClient, make: Catalog, admin_headers: Headers, db: Database, database_url: str
) -> None:
    newsletter = make.type("Newsletter")
    for status in ("SUBSCRIBED", "UNSUBSCRIBED", "SUBSCRIBED"):
        client.post(
            "/api/v1/subscribers/EMAIL/ann@example.com/statuses",
            json={
                "changes": [{"subscription_type_id": newsletter, "status": status}],
                "legal_basis_explanation": "asked, in writing",
            },
            headers=admin_headers,
        )
    api = rows(client.get("/api/v1/exports/history", headers=admin_headers).text)
    assert [(r["id"], r["new_status"], r["address"]) for r in api] == [
        ("1", "SUBSCRIBED", "ann@example.com"),
        ("2", "UNSUBSCRIBED", "ann@example.com"),
        ("3", "SUBSCRIBED", "ann@example.com"),
    ]
    assert api[2]["legal_basis_explanation"] == "asked, in writing"
    after = run(database_url, "export", "history", "--after", "1")
    assert after.exit_code == 0
    assert [r["id"] for r in rows(after.stdout)] == ["2", "3"]
    assert count_rows(db, "ledger_events") == 3


def test_it_seeds_a_demo_that_the_ledger_explains_and_reports_tampering(db: Database, database_url: str) -> None:
    seeded = run(database_url, "demo")
    assert seeded.exit_code == 0, seeded.output
    assert count_rows(db, "contacts") == 25
    assert count_rows(db, "wide_opt_outs") == 3
    again = run(database_url, "demo")
    assert (again.exit_code, "already has data" in again.output) == (1, True)
    assert count_rows(db, "contacts") == 25

    with db.write() as conn:  # an erasure resets the address in the replay
        account = load_account(conn)
        bob = account.normalize(Channel.EMAIL, "bob.berg@example.com")
        erasure.erase(db, conn, account, [bob], actor_id="test", context=RequestContext())
    clean = run(database_url, "ledger", "verify")
    assert (clean.exit_code, clean.stdout) == (0, "")
    assert "The ledger explains the state" in clean.stderr

    with db.write() as conn:
        conn.execute(sa.text("UPDATE subscription_statuses SET status = 'SUBSCRIBED' WHERE status = 'UNSUBSCRIBED'"))
        conn.execute(sa.text("DELETE FROM wide_opt_outs WHERE channel = 'SMS'"))
        conn.execute(sa.text("DELETE FROM outbox WHERE event_id = 3"))
        conn.execute(sa.text("UPDATE ledger_counter SET last_id = last_id + 1"))
    tampered = run(database_url, "ledger", "verify")
    assert tampered.exit_code == 1
    problems = tampered.stdout.splitlines()
    assert any("the table says SUBSCRIBED, the ledger UNSUBSCRIBED" in p for p in problems)
    assert any(p.startswith("wide opt-out of +46702345602 in business unit 0: in the ledger") for p in problems)
    assert "event 3 has no outbox row" in problems
    assert any(p.startswith("ledger_counter says the last id is") for p in problems)
    assert len(problems) == 4
