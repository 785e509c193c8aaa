"""The `assent` command (SPEC §3, command line)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click
import sqlalchemy as sa
from rich.console import Console

from assent.actions.apikeys import create_api_key, revoke_api_key
from assent.config import Settings, SettingsError
from assent.domain.audit import COMMAND_LINE
from assent.services.apikeys import SCOPES, list_api_keys
from assent.storage.db import UNAVAILABLE, Database, DatabaseURLError, open_database
from assent.storage.migrate import migrate

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

T = TypeVar("T")

err = Console(stderr=True)


def _database() -> tuple[Settings, Database]:
    settings = Settings.from_env()
    return settings, open_database(settings)


#: how long a thread may run before one that waits for the GIL gets it (Python's default:
#: 5 ms). A thread back from the database waits at most this long, perhaps while its
#: transaction holds the ledger counter that every other writer waits for. HubSpot batch
#: writes from four clients, 1 ms against 5 ms: 66–78 against 59–68 calls/s on PostgreSQL,
#: 60–68 against 58–62 on SQLite (two runs each, in turn).
SWITCH_INTERVAL = 0.001


def settle_heap() -> None:
    """Call once a long-running process has built what it keeps (app, routes, schemas, the
    phone-number metadata): those objects are never garbage, yet every full collection of
    Python's cyclic GC walked all of them again. A 100,000-contact workflow enrollment spent a
    fifth of its CPU doing so (in process: 4.9 → 3.9 s on PostgreSQL, 7.3 → 5.6 s on SQLite
    with `gc.freeze()`); requests see fewer, shorter pauses too. Objects made later are
    collected as before. The GIL's switch interval is shortened too (`SWITCH_INTERVAL`)."""
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)


def read_migrated(work: Callable[[Connection], T]) -> T:
    """`work(conn)` in a read transaction on the configured database, migrated first; the
    database is closed after. The `list` commands share it."""
    _, db = _database()
    try:
        migrate(db)
        with db.read() as conn:
            return work(conn)
    finally:
        db.dispose()


class _Commands(click.Group):
    """Every command: a setting or a database Assent cannot use is one line naming it and
    exit 1, not a driver's traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (SettingsError, DatabaseURLError) as error:
            raise click.ClickException(str(error)) from None
        except UNAVAILABLE as error:
            # the usual cause is a wrong URL or a server down
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            where = sa.make_url(Settings.from_env().database_url).render_as_string(hide_password=True)
            raise click.ClickException(f"cannot reach the database at {where}: {reason}") from None


@click.group(cls=_Commands)
def cli() -> None:
    """Assent: who agreed to receive what, with evidence."""


@cli.command("migrate")
def migrate_command() -> None:
    """Apply database migrations."""
    _, db = _database()
    migrate(db)
    db.dispose()
    err.print("[green]Database is up to date.[/green]")


@cli.group("api-key")
def api_key() -> None:
    """Manage API keys."""


@api_key.command("create")
@click.option("--name", required=True, help="What the key is for.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(SCOPES), default=("read",), show_default=True)
def api_key_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key. The key alone is printed on the last line of stdout."""
    _, db = _database()
    try:
        migrate(db)
        key_id, key = create_api_key(db, name, scopes, COMMAND_LINE)
    finally:
        db.dispose()
    err.print(f"Created API key {key_id} ({', '.join(sorted(scopes))}). It is shown once:")
    click.echo(key)


@api_key.command("list")
def api_key_list() -> None:
    """Every key: id, name, scopes, when created, when revoked (keys themselves are never shown)."""
    keys = read_migrated(list_api_keys)
    for found in keys:
        revoked = f"revoked {found['revoked_at']:%Y-%m-%d %H:%M}" if found["revoked_at"] else "active"
        scopes = ",".join(str(s) for s in found["scopes"])  # type: ignore[attr-defined]
        click.echo(f"{found['id']}\t{found['name']}\t{scopes}\t{found['created_at']:%Y-%m-%d %H:%M}\t{revoked}")
    if not keys:
        err.print("No API keys yet: assent api-key create --name N --scope write")


@api_key.command("revoke")
@click.argument("key_id")
def api_key_revoke(key_id: str) -> None:
    """Revoke a key by its id (the part after `assent_`): it stops working within 2 seconds.

    A key that was already revoked is left as it is (exit status 0, it says so); an id no key
    has is an error (exit status 1)."""
    _, db = _database()
    known = True
    try:
        migrate(db)
        revoked = revoke_api_key(db, key_id, COMMAND_LINE)
        if not revoked:
            with db.read() as conn:
                known = any(str(k["id"]) == key_id for k in list_api_keys(conn))
    finally:
        db.dispose()
    if revoked:
        err.print(f"Revoked API key {key_id}.")
    elif known:
        err.print(f"API key {key_id} was already revoked; nothing changed.")
    else:
        raise click.ClickException(f"no API key {key_id!r}: see assent api-key list")


def _register() -> None:
    # Commands living in their own modules attach themselves to `cli` on import.
    from assent.cli import (
        data,  # noqa: F401
        demo,  # noqa: F401
        imports,  # noqa: F401
        ledger,  # noqa: F401
        serve,  # noqa: F401
        users,  # noqa: F401
        worker,  # noqa: F401
    )


_register()


def main() -> None:  # pragma: no cover
    cli(prog_name="assent")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cli())
