"""`assent import opt-outs FILE` and `assent import contacts FILE` (R21), and their error report.

The same actions as `POST /api/v1/imports`: the file is checked and stored, its predicted
outcomes shown, the row count confirmed (unless `--yes`), and the job run here by a worker of
this process (a worker of `assent serve` may take it instead; the progress bar follows it).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from assent.actions import imports as actions
from assent.cli.main import cli
from assent.config import Settings
from assent.domain.imports import ImportKind, ImportStatus
from assent.domain.model import Channel, Evidence, LegalBasis
from assent.jobs.worker import Worker
from assent.services import imports as reading
from assent.services.errors import Problem
from assent.storage.db import Database, open_database
from assent.storage.migrate import migrate

err = Console(stderr=True)
_BASES = click.Choice([b.value for b in LegalBasis])
_FINISHED = (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED)


@cli.group("import")
def import_group() -> None:
    """Import opt-out lists and contacts from CSV files (UTF-8, header row)."""


def _options(command: Any) -> Any:
    for option in reversed(
        [
            click.option("--yes", is_flag=True, help="Do not ask to confirm the row count."),
            click.option("--encoding", default="utf-8", show_default=True, help="The file's encoding, e.g. latin-1."),
            click.option("--legal-basis", type=_BASES, help="For status columns that opt people in."),
            click.option("--explanation", "legal_basis_explanation", help="Why, in words (data privacy mode)."),
            click.option("--processing-legal-basis", type=_BASES, help="Basis to process data (data privacy mode)."),
        ]
    ):
        command = option(command)
    return command


@import_group.command("opt-outs")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--business-unit", "business_unit_id", required=True, type=click.IntRange(0), help="Unit to opt out of.")
@click.option("--channel", type=click.Choice([c.value for c in Channel]), default="EMAIL", show_default=True)
@_options
def opt_outs(file: Path, business_unit_id: int, channel: str, **options: Any) -> None:
    """Unsubscribe every address of FILE from all messages of a business unit."""
    _run(file, ImportKind.OPT_OUTS, Channel(channel), business_unit_id, **options)


@import_group.command("contacts")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_options
def contacts(file: Path, **options: Any) -> None:
    """Create or update contacts (email, phone, names, properties, status columns)."""
    _run(file, ImportKind.CONTACTS, Channel.EMAIL, 0, **options)


@import_group.command("errors")
@click.argument("import_id")
def errors(import_id: str) -> None:
    """The error report of an import, as CSV on stdout."""
    db = _database()
    try:
        for chunk in reading.error_csv(db, import_id):
            sys.stdout.write(chunk)
    except Problem as problem:
        _fail(problem)


def _database() -> Database:
    db = open_database(Settings.from_env())
    migrate(db)
    return db


def _fail(problem: Problem) -> None:
    field = f" ({problem.errors[0].field})" if problem.errors else ""
    err.print(f"[red]Refused{field}:[/red] {problem.detail}")
    sys.exit(2)


def _run(
    file: Path,
    kind: ImportKind,
    channel: Channel,
    business_unit_id: int,
    *,
    yes: bool,
    encoding: str,
    legal_basis: str | None,
    legal_basis_explanation: str | None,
    processing_legal_basis: str | None,
) -> None:
    settings = Settings.from_env()
    db = _database()
    request = actions.ImportRequest(
        kind=kind,
        channel=channel,
        business_unit_id=business_unit_id,
        evidence=Evidence(
            legal_basis=LegalBasis(legal_basis) if legal_basis else None,
            legal_basis_explanation=legal_basis_explanation,
            processing_legal_basis=LegalBasis(processing_legal_basis) if processing_legal_basis else None,
        ),
        file_name=file.name,
        encoding=encoding,
        max_bytes=settings.max_upload_bytes,
    )
    try:
        with file.open("rb") as stream:
            created = actions.create_import(db, stream, request, actor_id="cli")
    except Problem as problem:
        _fail(problem)
    err.print(f"[bold]{created['row_count']:,}[/bold] rows in {file.name} (import {created['id']})")
    for column, target in created["mapping"].items():
        err.print(f"  {column} → {target}")
    predicted = created["predicted"]
    err.print(
        "If confirmed: "
        + ", ".join(f"{predicted[k]:,} {k.lower()}" for k in ("CHANGED", "UNCHANGED", "REFUSED", "INVALID"))
    )
    for reason, count in sorted(predicted.get("by_reason", {}).items()):
        err.print(f"  {count:,} × {reading.words(reason)}")
    what = "opted out of all messages of business unit" if kind is ImportKind.OPT_OUTS else "imported into unit"
    if not yes and not click.confirm(f"{created['row_count']:,} rows will be {what} {business_unit_id}. Confirm?"):
        actions.cancel_import(db, created["id"])
        err.print("Cancelled; nothing was changed.")
        sys.exit(1)
    actions.confirm_import(db, created["id"], created["row_count"], actor_id="cli")
    final = _follow(db, created["id"], created["row_count"])
    counts = final["counts"]
    err.print(", ".join(f"{counts[k]:,} {k.lower()}" for k in ("CHANGED", "UNCHANGED", "REFUSED", "INVALID")))
    if counts["REFUSED"] or counts["INVALID"]:
        err.print(f"Error report: assent import errors {final['id']}  (or GET /api/v1/imports/{final['id']}/errors)")
    if final["status"] != ImportStatus.DONE:
        err.print(f"[red]The import ended {final['status']}.[/red]")
        sys.exit(1)
    err.print(f"[green]Import {final['id']} done.[/green]")


def _follow(db: Database, import_id: str, total: int) -> dict[str, Any]:
    """Run a worker here and show the import's progress until it has finished."""
    stop = threading.Event()
    worker = Worker(db, poll=0.2)
    thread = threading.Thread(target=worker.run, args=(stop,), name="assent-import", daemon=True)
    thread.start()
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("import", total=total)
            while True:
                with db.read() as conn:
                    current = reading.view(conn, import_id)
                progress.update(task, completed=current["progress"]["done"])
                if ImportStatus(current["status"]) in _FINISHED:
                    return current
                time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=30)
