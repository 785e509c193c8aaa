"""The kinds of event the email feedback writes (hard and soft bounces, spam complaints, a
provider's resubscribe report) are chained like every other: they verify, a change to any
of their fields is caught, and the state as of a moment counts them (issue 17 × issue 13)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection

from assent.domain.model import Actor, Channel, Evidence, Source
from assent.services.bounces import Bounce, FeedbackWriter, Report, record_reports
from assent.services.state import load_account
from assent.storage.db import Database
from tests.conftest import Catalog
from tests.evidence.helpers import first_finding, history, run, standalone, tamper, verdict

ANN = "ann@example.com"
BEN = "ben@example.com"


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 3, day, 10, 0, tzinfo=dt.UTC)


def feedback(db: Database, type_id: int) -> None:
    """Events 1..5: Ann soft-bounces twice (2 and 4 March), Ben hard-bounces (3 March) and
    complains (6 March); a provider reports Ann resubscribed (8 March)."""

    def writer(conn: Connection, source: Source, day: int) -> FeedbackWriter:
        return FeedbackWriter(db, conn, load_account(conn), Actor(source, "sendgrid"), Evidence(), at=at(day))

    with db.write() as conn:
        ann = load_account(conn).normalize(Channel.EMAIL, ANN)
        writer(conn, Source.BOUNCE, 2).count_soft_bounces([Bounce(ann, "452 mailbox full")])
    with db.write() as conn:
        ben = load_account(conn).normalize(Channel.EMAIL, BEN)
        writer(conn, Source.BOUNCE, 3).mark_undeliverable([Bounce(ben, "550 no such user")])
    with db.write() as conn:
        ann = load_account(conn).normalize(Channel.EMAIL, ANN)
        writer(conn, Source.BOUNCE, 4).count_soft_bounces([Bounce(ann, "421 try again later")])
    with db.write() as conn:
        ben = load_account(conn).normalize(Channel.EMAIL, BEN)
        writer(conn, Source.SPAM_COMPLAINT, 6).set_wide_opt_out(Channel.EMAIL, [ben], 0)
    with db.write() as conn:
        ann = load_account(conn).normalize(Channel.EMAIL, ANN)
        report = Report(ann, 0, type_id, "sendgrid reports a resubscribe; not applied")
        record_reports(writer(conn, Source.ESP_UNSUBSCRIBE, 8), [report])


@pytest.fixture
def ledger(db: Database, make: Catalog) -> int:
    type_id = make.type("Newsletter")
    feedback(db, type_id)
    return type_id


def test_feedback_events_are_chained_and_verify(ledger: int, db: Database, database_url: str, tmp_path: Path) -> None:
    clean = run(database_url, "ledger", "verify")
    assert clean.exit_code == 0, clean.output
    assert "5 events" in clean.stderr
    kinds = [row["kind"] for row in history(run(database_url, "export", "history").stdout)]
    assert kinds == ["SOFT_BOUNCE", "UNDELIVERABLE", "SOFT_BOUNCE", "WIDE_OPT_OUT", "ESP_RESUBSCRIBE"]
    assert standalone(database_url, db, tmp_path / "history.csv").ok


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        # a soft bounce's diagnostic is personal (legal_basis_explanation): caught by its digest
        ("UPDATE ledger_events SET legal_basis_explanation = '250 delivered' WHERE id = 1", (1, "edited")),
        # a soft bounce passed off as a hard one
        ("UPDATE ledger_events SET kind = 'UNDELIVERABLE', new_status = 'UNDELIVERABLE' WHERE id = 3", (3, "edited")),
        # a provider's report passed off as a spam complaint's source
        ("UPDATE ledger_events SET source = 'SPAM_COMPLAINT' WHERE id = 5", (5, "edited")),
        ("DELETE FROM ledger_events WHERE id = 2", (2, "deleted")),
    ],
)
def test_a_change_to_a_feedback_event_is_caught(
    statement: str, expected: tuple[int, str], ledger: int, db: Database, database_url: str, tmp_path: Path
) -> None:
    tamper(db, statement)
    found = run(database_url, "ledger", "verify")
    assert found.exit_code == 1
    assert first_finding(found) == expected
    assert verdict(standalone(database_url, db, tmp_path / "history.csv")) == expected


def test_the_state_as_of_a_moment_counts_the_feedback(
    ledger: int, client: TestClient, admin_headers: dict[str, str]
) -> None:
    def state(channel_address: str, day: int) -> dict[str, Any]:
        response = client.get(
            f"/api/v1/subscribers/EMAIL/{channel_address}",
            params={"as_of": at(day).isoformat()},
            headers=admin_headers,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    on_3 = state(ANN, 3)
    assert (on_3["soft_bounces"], on_3["last_soft_bounce_reason"]) == (1, "452 mailbox full")
    on_9 = state(ANN, 9)
    assert (on_9["soft_bounces"], on_9["last_soft_bounce_reason"]) == (2, "421 try again later")
    assert dt.datetime.fromisoformat(on_9["last_soft_bounce_at"]) == at(4)
    assert on_9["undeliverable"] is False  # a soft bounce never suppresses, nor does a report
    ben_2, ben_5, ben_7 = state(BEN, 2), state(BEN, 5), state(BEN, 7)
    assert (ben_2["undeliverable"], ben_5["undeliverable"]) == (False, True)
    assert ben_5["undeliverable_reason"] == "550 no such user"
    assert dt.datetime.fromisoformat(ben_5["undeliverable_at"]) == at(3)
    assert ben_5["complaints"] == []
    [complaint] = ben_7["complaints"]
    assert (complaint["business_unit_id"], dt.datetime.fromisoformat(complaint["at"])) == (0, at(6))
