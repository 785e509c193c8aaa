"""A small ledger to tamper with, and the commands that check it."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner, Result

from assent.cli.main import cli
from assent.domain.model import Actor, Channel, Evidence, Source, Status
from assent.services.changes import Writer
from assent.services.ledger import RequestContext
from assent.services.state import load_account, load_types
from assent.storage.db import Database
from assent.storage.ledger_guard import drop_ledger_guard
from assent.verifier_standalone import ChainResult, verify_export

ENV_KEY = "test-secret"
#: (address, status) per event, one transaction each: events 1..6
CHANGES = [
    ("ann@example.com", Status.SUBSCRIBED),
    ("ben@example.com", Status.SUBSCRIBED),
    ("ann@example.com", Status.UNSUBSCRIBED),
    ("cat@example.com", Status.SUBSCRIBED),
    ("ben@example.com", Status.UNSUBSCRIBED),
    ("dan@example.com", Status.SUBSCRIBED),
]
FINDING = re.compile(r"^event (\d+): (\w+): ")


def run(database_url: str, *args: str, **env: str) -> Result:
    environment = {"ASSENT_DATABASE_URL": database_url, "ASSENT_SECRET_KEYS": ENV_KEY, **env}
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)


def seed(db: Database, type_id: int) -> None:
    for n, (raw, status) in enumerate(CHANGES):
        with db.write() as conn:
            account = load_account(conn)
            [type_] = load_types(conn, [type_id]).values()
            writer = Writer(
                db,
                conn,
                account,
                Actor(Source.API, "key-1"),
                Evidence(legal_basis_explanation=f"asked in writing, letter {n}"),
                RequestContext(f"192.0.2.{n}", "Mozilla/5.0 (test)"),
            )
            writer.change_statuses(Channel.EMAIL, [(account.normalize(Channel.EMAIL, raw), [(type_, status)])])


def tamper(db: Database, *statements: str, **params: Any) -> None:
    """What a database owner can do: drop the guard triggers, then write SQL."""
    with db.write() as conn:
        drop_ledger_guard(conn)
        for statement in statements:
            conn.execute(sa.text(statement), params)


def first_finding(result: Result) -> tuple[int, str]:
    """The first chain problem `assent ledger verify` printed."""
    for line in result.stdout.splitlines():
        found = FINDING.match(line)
        if found:
            return int(found.group(1)), found.group(2)
    raise AssertionError(f"no chain finding in {result.stdout!r}")


def export(database_url: str, path: Path) -> Path:
    exported = run(database_url, "export", "history")
    assert exported.exit_code == 0
    path.write_text(exported.stdout, encoding="utf-8")
    return path


def standalone(database_url: str, db: Database, path: Path, checkpoint: str | None = None) -> ChainResult:
    """The export checked by the standalone verifier, with the API's public key."""
    with db.read() as conn:
        key = conn.execute(sa.text("SELECT digest_key FROM ledger_counter")).scalar_one()
    public = run(database_url, "ledger", "public-key").stdout
    return verify_export(
        export(database_url, path), checkpoint=checkpoint, public_key_pem=public, digest_key=bytes.fromhex(key)
    )


def checkpoint(database_url: str) -> dict[str, Any]:
    written = run(database_url, "ledger", "checkpoint")
    assert written.exit_code == 0, written.output
    [line] = written.stdout.splitlines()
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def history(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def verdict(result: ChainResult) -> tuple[int, str] | None:
    """The standalone verifier's first bad event and what is wrong with it."""
    first = result.first
    return None if first is None else (first.event_id, first.kind)
