"""`assent user create|reset-password`: admin UI users (the first admin comes from here)."""

from __future__ import annotations

import click
from rich.console import Console

from assent.actions.users import create_user, reset_password_by_email
from assent.cli.main import _database, cli
from assent.domain.audit import COMMAND_LINE
from assent.services.errors import Problem
from assent.services.users import Role
from assent.storage.migrate import migrate

err = Console(stderr=True)

_PASSWORD = click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when not given (prefer the prompt: options end up in shell history).",
)


def _problem(problem: Problem) -> click.ClickException:
    reasons = "; ".join(f"{e.field}: {e.reason}" for e in problem.errors)
    return click.ClickException(reasons or problem.detail)


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
@_PASSWORD
def user_create(email: str, role: str, password: str) -> None:
    """Create a user who signs in at /admin."""
    _, db = _database()
    migrate(db)
    try:
        created = create_user(db, email, role, password, COMMAND_LINE)
    except Problem as problem:
        raise _problem(problem) from None
    finally:
        db.dispose()
    err.print(f"Created {created.role.value} {created.email}. Sign in at /admin.")


@user.command("reset-password")
@click.option("--email", required=True, help="The user's sign-in email.")
@_PASSWORD
def user_reset_password(email: str, password: str) -> None:
    """Set a new password: the user's sessions end, and a sign-in lockout on the account is
    lifted (the way back for an owner locked out by failed attempts)."""
    _, db = _database()
    migrate(db)
    try:
        changed = reset_password_by_email(db, email, password, COMMAND_LINE)
    except Problem as problem:
        raise _problem(problem) from None
    finally:
        db.dispose()
    err.print(f"Set a new password for {changed.email}; their sessions ended and sign-in is unlocked.")
