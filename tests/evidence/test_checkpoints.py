"""Checkpoints: signed by the configured key (or the one kept in the database), written by
the worker on its interval when the ledger has grown, refused with a clear message when the
key is not one."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from assent.actions.ledger import periodic_checkpoints
from assent.config import Settings
from assent.jobs.worker import Worker
from assent.storage.db import Database
from assent.verifier_standalone import signature_ok
from tests.conftest import Catalog, count_rows
from tests.evidence.helpers import CHANGES, run, seed


def test_the_worker_writes_a_checkpoint_on_its_interval_when_the_ledger_grew(
    db: Database, make: Catalog, settings: Settings
) -> None:
    type_id = make.type("Newsletter")
    [task] = periodic_checkpoints(db, settings)
    assert task.every == 3600  # hourly unless configured
    worker = Worker(db, periodic=[task])
    worker.run_periodic()  # at start: the empty ledger's head
    worker.run_periodic()  # not due yet
    assert count_rows(db, "ledger_checkpoints") == 1
    task.due = 0
    worker.run_periodic()  # due, but nothing new to sign
    assert count_rows(db, "ledger_checkpoints") == 1
    seed(db, type_id)
    task.due = 0
    worker.run_periodic()
    assert count_rows(db, "ledger_checkpoints") == 2
    assert periodic_checkpoints(db, Settings(database_url=settings.database_url, ledger_checkpoint_interval=0)) == []


def test_an_interval_is_read_from_the_environment() -> None:
    assert Settings.from_env({"ASSENT_LEDGER_CHECKPOINT_INTERVAL": "600"}).ledger_checkpoint_interval == 600
    assert Settings.from_env({}).ledger_checkpoint_interval == 3600
    with pytest.raises(ValueError, match="ASSENT_LEDGER_CHECKPOINT_INTERVAL"):
        Settings.from_env({"ASSENT_LEDGER_CHECKPOINT_INTERVAL": "hourly"})


def test_it_signs_with_the_configured_key(db: Database, make: Catalog, database_url: str) -> None:
    seed(db, make.type("Newsletter"))
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    raw = base64.b64encode(
        key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    stored_key = run(database_url, "ledger", "public-key").stdout
    assert stored_key != public
    for configured in (pem, raw):
        written = run(database_url, "ledger", "checkpoint", ASSENT_LEDGER_SIGNING_KEY=configured)
        assert written.exit_code == 0, written.output
        checkpoint = json.loads(written.stdout)
        assert checkpoint["last_event_id"] == len(CHANGES)
        assert signature_ok(checkpoint, public)
        assert not signature_ok(checkpoint, stored_key)
        assert run(database_url, "ledger", "public-key", ASSENT_LEDGER_SIGNING_KEY=configured).stdout == public
        verified = run(database_url, "ledger", "verify", "--checkpoint", written.stdout, ASSENT_LEDGER_SIGNING_KEY=configured)
        assert verified.exit_code == 0, verified.output
    refused = run(database_url, "ledger", "checkpoint", ASSENT_LEDGER_SIGNING_KEY="not a key")
    assert refused.exit_code == 2
    assert "ASSENT_LEDGER_SIGNING_KEY" in refused.stderr
    assert count_rows(db, "ledger_checkpoints") == 2
    bad = run(database_url, "ledger", "verify", "--checkpoint", "{not json")
    assert bad.exit_code == 2
    assert "not a checkpoint" in bad.output
