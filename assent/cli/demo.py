"""`assent demo`, and the demo sign-in that it and `assent serve --demo` print."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console

from assent.actions.apikeys import replace_named_key
from assent.actions.demo import seed_if_empty
from assent.actions.users import ensure_demo_admin
from assent.cli.main import _database, cli
from assent.domain.audit import COMMAND_LINE
from assent.storage.db import Database
from assent.storage.migrate import migrate

err = Console(stderr=True, soft_wrap=True)
DEMO_KEY_NAME = "demo (assent serve --demo)"


@dataclass(frozen=True, slots=True)
class DemoSignIn:
    key: str
    email: str
    password: str


def issue_demo_sign_in(db: Database) -> DemoSignIn:
    """A fresh admin API key and the demo admin's fresh password. One demo key at a time: the
    one printed by an earlier run stops working, and so does the earlier password."""
    key = replace_named_key(db, DEMO_KEY_NAME, ["admin"], COMMAND_LINE)
    email, password = ensure_demo_admin(db, COMMAND_LINE)
    return DemoSignIn(key, email, password)


def print_demo_sign_in(console: Console, url: str, sign_in: DemoSignIn) -> None:
    console.print("A ready API key with admin scope:")
    console.print(f"  [bold]{sign_in.key}[/bold]")
    console.print(f'  try: curl -H "Authorization: Bearer {sign_in.key}" {url}/api/v1/subscription-types')
    console.print(
        f"Admin UI: {url}/admin  ·  sign in as [bold]{sign_in.email}[/bold] / [bold]{sign_in.password}[/bold]"
    )


@cli.command("demo")
def demo() -> None:
    """Seed the demo data set (business units, types, 25 contacts, a history) into an empty
    database, and print a demo admin sign-in and an API key with admin scope, as `assent serve
    --demo` does.

    Exit status 0 when it seeded. A database that already has subscription types is left as it
    is: it says so, prints no sign-in, and exits with 1 (the demo was not set up by this run).
    """
    settings, db = _database()
    try:
        migrate(db)
        if not seed_if_empty(db):
            err.print(
                "The database already has data (subscription types); nothing seeded, no sign-in or key made. "
                "The demo goes into an empty database (ASSENT_DATABASE_URL); for a key here: assent api-key create"
            )
            raise SystemExit(1)
        sign_in = issue_demo_sign_in(db)
    finally:
        db.dispose()
    err.print("[green]Demo data seeded.[/green] Start it with: assent serve")
    print_demo_sign_in(err, settings.base_url, sign_in)
