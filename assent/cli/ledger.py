"""`assent ledger verify` and `assent ledger checkpoint` (R24, issue 17)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from assent.actions.ledger import write_checkpoint
from assent.cli.main import cli
from assent.config import Settings
from assent.services import checkpoints
from assent.services.verify import verify
from assent.storage.db import open_database
from assent.storage.migrate import migrate
from assent.verifier_standalone import Checkpoint

err = Console(stderr=True, soft_wrap=True)


@cli.group("ledger")
def ledger() -> None:
    """The ledger of every change (R24): its proof and its checks."""


def _checkpoint(raw: str | None) -> Checkpoint | None:
    if raw is None:
        return None
    text = raw if raw.lstrip().startswith("{") else None
    if text is None:
        path = Path(raw)
        if not path.is_file():
            raise click.BadParameter("neither a file nor a checkpoint's JSON", param_hint="--checkpoint")
        text = path.read_text(encoding="utf-8")
    try:
        return Checkpoint.parse(text)
    except (ValueError, TypeError) as error:  # json.JSONDecodeError is a ValueError
        raise click.BadParameter(f"not a checkpoint: {error}", param_hint="--checkpoint") from None


@ledger.command("verify")
@click.option("--checkpoint", "checkpoint_arg", metavar="FILE|JSON", help="A signed checkpoint to compare with.")
@click.option("--from", "from_id", default=1, type=click.IntRange(min=1), help="Check the chain from this event on.")
@click.option("--limit", default=1000, show_default=True, help="List at most this many problems.")
def ledger_verify(checkpoint_arg: str | None, from_id: int, limit: int) -> None:
    """Recompute the hash chain and replay the ledger against the state; exit 1 on any problem.

    Each problem is a line on stdout; chain problems come first, as
    `event ID: KIND: detail`, KIND one of edited, deleted, inserted, reordered, truncated,
    bad_signature. With --from only the chain is checked (from that event on).
    """
    checkpoint = _checkpoint(checkpoint_arg)
    settings = Settings.from_env()
    db = open_database(settings)
    try:
        with db.read() as conn:
            public_key = checkpoints.public_key_pem(conn, settings.ledger_signing_key)
    except checkpoints.SigningKeyError as error:
        err.print(f"[red]{error}[/red]")
        sys.exit(2)
    report = verify(db, limit=limit, checkpoint=checkpoint, public_key_pem=public_key, from_id=from_id)
    db.dispose()
    for problem in report.problems:
        click.echo(problem)
    if report.more_problems:
        click.echo(f"… and {report.more_problems} more problems")
    result = report.chain
    assert result is not None
    summary = f"{result.events} events from id {from_id} ({result.redacted} redacted)"
    if report.replayed:
        summary += f", {report.addresses} addresses replayed"
    if result.checkpoint is not None:
        summary += f"; compared with the checkpoint of {result.checkpoint.at} (event {result.checkpoint.last_event_id})"
    if report.ok:
        what = "The ledger explains the state and its chain verifies" if report.replayed else "The chain verifies"
        err.print(f"[green]{what}:[/green] {summary}.")
        return
    first = report.first
    where = f" First bad event: {first.event_id} ({first.kind})." if first is not None else ""
    err.print(f"[red]{len(report.problems) + report.more_problems} problems[/red] ({summary}).{where}")
    sys.exit(1)


@ledger.command("checkpoint")
def ledger_checkpoint() -> None:
    """Sign the chain's head and store it; print the checkpoint as one line of JSON.

    Publish that line outside Assent (an auditor's mailbox, a git repository, a
    transparency log): compared later with `assent ledger verify --checkpoint`, it shows
    whether any event it covers was changed, removed or cut off.
    """
    settings = Settings.from_env()
    db = open_database(settings)
    migrate(db)
    try:
        written = write_checkpoint(db, settings)
    except checkpoints.SigningKeyError as error:
        err.print(f"[red]{error}[/red]")
        sys.exit(2)
    finally:
        db.dispose()
    assert written is not None
    click.echo(json.dumps(written, separators=(",", ":"), sort_keys=True))


@ledger.command("public-key")
def ledger_public_key() -> None:
    """Print the PEM of the key that checkpoints and receipts verify with."""
    settings = Settings.from_env()
    db = open_database(settings)
    migrate(db)
    try:
        with db.read() as conn:
            click.echo(checkpoints.public_key_pem(conn, settings.ledger_signing_key), nl=False)
    except checkpoints.SigningKeyError as error:
        err.print(f"[red]{error}[/red]")
        sys.exit(2)
    finally:
        db.dispose()
