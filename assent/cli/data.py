"""`assent export suppressions|history`."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import click
from rich.console import Console

from assent.cli.main import cli
from assent.config import Settings
from assent.services import exports
from assent.storage.db import Database, open_database

err = Console(stderr=True)


def _database() -> Database:
    return open_database(Settings.from_env())


@cli.group("export")
def export() -> None:
    """CSV to stdout."""


def _write(chunks: Iterator[str]) -> None:
    for chunk in chunks:
        sys.stdout.write(chunk)
    sys.stdout.flush()


@export.command("suppressions")
def export_suppressions() -> None:
    """Every opt-out, wide opt-out, bounce, complaint and erasure (erased addresses as hashes)."""
    db = _database()
    _write(exports.csv_chunks(exports.SUPPRESSION_COLUMNS, exports.suppression_rows(db)))
    db.dispose()


@export.command("history")
@click.option("--after", default=0, type=click.IntRange(min=0), help="Only events with a greater id.")
def export_history(after: int) -> None:
    """The ledger, oldest first."""
    db = _database()
    _write(exports.csv_chunks(exports.HISTORY_COLUMNS, exports.history_rows(db, after)))
    db.dispose()
