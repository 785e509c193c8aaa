"""The hash chain catches what a database owner could do with the guard triggers dropped
(issue 17), on both backends: `assent ledger verify` names the first bad event and what is
wrong, and the standalone verifier, given the export, says the same."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from assent.domain.model import Channel
from assent.services import erasure
from assent.services.chain import chain_existing
from assent.services.ledger import RequestContext
from assent.services.state import load_account
from assent.storage.db import Database
from tests.conftest import Catalog
from tests.evidence.helpers import checkpoint, first_finding, run, seed, standalone, tamper, verdict

LAST = 6

TAMPERINGS = {
    "a status changed": (
        ["UPDATE ledger_events SET new_status = 'SUBSCRIBED' WHERE id = 3"],
        (3, "edited"),
    ),
    "an explanation changed": (
        ["UPDATE ledger_events SET legal_basis_explanation = 'she agreed on the phone' WHERE id = 2"],
        (2, "edited"),
    ),
    "an address changed": (
        ["UPDATE ledger_events SET address = 'mallory@example.com' WHERE id = 4"],
        (4, "edited"),
    ),
    "an event deleted": (["DELETE FROM ledger_events WHERE id = 3"], (3, "deleted")),
    "an event inserted between": (
        [
            # make room at id 3, as the unique id index allows, then slip an event in
            "UPDATE ledger_events SET id = -id WHERE id >= 3",
            "UPDATE ledger_events SET id = 1 - id WHERE id < 0",
            "INSERT INTO ledger_events (address_hash, id, at, kind, channel, address, business_unit_id,"
            " subscription_type_id, old_status, new_status, source, actor_kind, redacted)"
            " SELECT address_hash, 3, at, kind, channel, address, business_unit_id, subscription_type_id,"
            " 'NOT_SPECIFIED', 'SUBSCRIBED', source, actor_kind, redacted FROM ledger_events WHERE id = 2",
            "UPDATE ledger_counter SET last_id = last_id + 1",
        ],
        (3, "inserted"),
    ),
    "an event added at the end": (
        [
            "INSERT INTO ledger_events (address_hash, id, at, kind, channel, address, business_unit_id,"
            " subscription_type_id, old_status, new_status, source, actor_kind, redacted)"
            " SELECT address_hash, 7, at, kind, channel, address, business_unit_id, subscription_type_id,"
            " 'UNSUBSCRIBED', 'SUBSCRIBED', source, actor_kind, redacted FROM ledger_events WHERE id = 3",
        ],
        (7, "inserted"),
    ),
    "two events swapped": (
        [
            "UPDATE ledger_events SET id = -2 WHERE id = 2",
            "UPDATE ledger_events SET id = 2 WHERE id = 4",
            "UPDATE ledger_events SET id = 4 WHERE id = -2",
        ],
        (2, "reordered"),
    ),
    "a redaction without an erasure": (
        [
            "UPDATE ledger_events SET address = NULL, legal_basis_explanation = NULL, ip = NULL,"
            " user_agent = NULL, notice_text = NULL, redacted = TRUE WHERE id = 5"
        ],
        (5, "edited"),
    ),
}


@pytest.fixture
def ledger(db: Database, make: Catalog) -> int:
    type_id = make.type("Newsletter")
    seed(db, type_id)
    return type_id


def test_it_verifies_a_clean_ledger(ledger: int, database_url: str) -> None:
    clean = run(database_url, "ledger", "verify")
    assert clean.exit_code == 0, clean.output
    assert clean.stdout == ""
    assert "chain verifies" in clean.stderr
    assert f"{LAST} events" in clean.stderr


@pytest.mark.parametrize("case", list(TAMPERINGS))
def test_it_names_the_first_bad_event_and_what_was_done(
    case: str, ledger: int, db: Database, database_url: str, tmp_path: Path
) -> None:
    statements, expected = TAMPERINGS[case]
    tamper(db, *statements)
    found = run(database_url, "ledger", "verify")
    assert found.exit_code == 1
    assert first_finding(found) == expected
    if case == "an explanation changed":
        assert "legal_basis_explanation does not match its recorded digest" in found.stdout
    if case == "an address changed":
        assert "event 4: edited: address does not match" in found.stdout
    # The standalone verifier, from the export alone, comes to the same verdict.
    checked = standalone(database_url, db, tmp_path / "history.csv")
    assert verdict(checked) == expected


def test_it_catches_a_cut_tail_only_against_a_checkpoint(
    ledger: int, db: Database, database_url: str, tmp_path: Path
) -> None:
    signed = checkpoint(database_url)
    assert (signed["last_event_id"], sorted(signed)) == (LAST, ["at", "last_event_id", "last_hash", "signature"])
    # The owner cuts the last two events and puts the counter back: the chain that is left
    # is a valid chain, so only the checkpoint, kept outside, shows what is missing.
    tamper(
        db,
        "DELETE FROM ledger_events WHERE id > 4",
        "DELETE FROM outbox WHERE event_id > 4",
        "UPDATE ledger_counter SET last_id = 4, last_hash = (SELECT hash FROM ledger_events WHERE id = 4)",
    )
    alone = run(database_url, "ledger", "verify", "--from", "1")
    assert not any(line.startswith("event ") for line in alone.stdout.splitlines())
    against = run(database_url, "ledger", "verify", "--checkpoint", json_line(signed))
    assert against.exit_code == 1
    assert first_finding(against) == (5, "truncated")
    checked = standalone(database_url, db, tmp_path / "history.csv", json_line(signed))
    assert verdict(checked) == (5, "truncated")


def test_it_catches_a_rewritten_and_rechained_history_against_a_checkpoint(
    ledger: int, db: Database, database_url: str, tmp_path: Path
) -> None:
    signed = checkpoint(database_url)
    # Someone who knows the scheme and holds the database (and so the digest key) edits an
    # event and computes the whole chain again: consistent in itself, but not what was signed.
    tamper(db, "UPDATE ledger_events SET new_status = 'SUBSCRIBED' WHERE id = 3")
    with db.write() as conn:
        chain_existing(conn)
    alone = run(database_url, "ledger", "verify")
    assert not any(line.startswith("event ") for line in alone.stdout.splitlines())  # a valid chain by itself
    against = run(database_url, "ledger", "verify", "--from", "1", "--checkpoint", json_line(signed))
    assert first_finding(against) == (LAST, "edited")
    assert "the history up to it was rewritten" in against.stdout


def test_it_refuses_a_checkpoint_with_a_flipped_byte(
    ledger: int, db: Database, database_url: str, tmp_path: Path
) -> None:
    signed = checkpoint(database_url)
    good = run(database_url, "ledger", "verify", "--checkpoint", json_line(signed))
    assert good.exit_code == 0, good.output
    assert f"compared with the checkpoint of {signed['at']}" in good.stderr
    flipped_hash = {**signed, "last_hash": flip(signed["last_hash"])}
    flipped_signature = {**signed, "signature": flip_base64(signed["signature"])}
    for bad in (flipped_hash, flipped_signature):
        path = tmp_path / "checkpoint.json"
        path.write_text(json_line(bad) + "\n")
        refused = run(database_url, "ledger", "verify", "--checkpoint", str(path))
        assert refused.exit_code == 1
        assert first_finding(refused) == (LAST, "bad_signature")
        checked = standalone(database_url, db, tmp_path / "history.csv", json_line(bad))
        assert verdict(checked) == (LAST, "bad_signature")


def test_an_erasure_after_a_checkpoint_still_verifies_as_redacted(
    ledger: int, db: Database, database_url: str, tmp_path: Path
) -> None:
    signed = checkpoint(database_url)
    with db.write() as conn:
        account = load_account(conn)
        ann = account.normalize(Channel.EMAIL, "ann@example.com")
        erasure.erase(db, conn, account, [ann], actor_id="test", context=RequestContext())
    with db.read() as conn:
        redacted = conn.execute(
            sa.text("SELECT id, address, ip, address_digest FROM ledger_events WHERE redacted ORDER BY id")
        ).all()
    assert [(r.id, r.address, r.ip) for r in redacted] == [(1, None, None), (3, None, None)]
    assert all(r.address_digest for r in redacted)  # the digests stay: the chain still holds
    checked = run(database_url, "ledger", "verify", "--checkpoint", json_line(signed))
    assert checked.exit_code == 0, checked.output
    assert "(2 redacted)" in checked.stderr
    alone = standalone(database_url, db, tmp_path / "history.csv", json_line(signed))
    assert alone.ok
    assert (alone.redacted, alone.last_id) == (2, LAST + 1)


def test_it_checks_from_a_given_event(ledger: int, db: Database, database_url: str) -> None:
    tamper(db, "UPDATE ledger_events SET new_status = 'SUBSCRIBED' WHERE id = 3")
    later = run(database_url, "ledger", "verify", "--from", "4")
    assert later.exit_code == 0, later.output
    assert "3 events from id 4" in later.stderr
    assert first_finding(run(database_url, "ledger", "verify", "--from", "2")) == (3, "edited")


def json_line(value: dict[str, object]) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def flip(hex_text: str) -> str:
    return ("1" if hex_text[0] != "1" else "2") + hex_text[1:]


def flip_base64(text: str) -> str:
    import base64

    raw = bytearray(base64.b64decode(text))
    raw[10] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()
