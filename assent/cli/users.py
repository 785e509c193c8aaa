"""`assent user create`: admin UI users (the first admin comes from here)."""

from __future__ import annotations

import click
from rich.console import Console

from assent.cli.main import _database, cli
from assent.services.errors import Problem
from assent.services.users import Role, create_user
from assent.storage.migrate import migrate

err = Console(stderr=True)


@cli.group("user")
def user() -> None:
    """Manage admin UI users."""


@user.command("create")
@click.option("--email", required=True, help="The sign-in email.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.ADMIN.value,
    show_default=True,
)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when not given (prefer the prompt: options end up in shell history).",
)
def user_create(email: str, role: str, password: str) -> None:
    """Create a user who signs in at /admin."""
    _, db = _database()
    migrate(db)
    try:
        with db.write() as conn:
            created = create_user(conn, email, role, password)
    except Problem as problem:
        raise click.ClickException(problem.detail) from None
    finally:
        db.dispose()
    err.print(f"Created {created.role.value} {created.email}. Sign in at /admin.")
