"""`assent user create|reset-password`: admin UI users (the first admin comes from here)."""

from __future__ import annotations

import click
from rich.console import Console

from assent.actions.users import create_user, reset_password_by_email, set_disabled
from assent.cli.main import _database, cli, read_migrated
from assent.domain.audit import COMMAND_LINE
from assent.services.errors import Problem
from assent.services.users import Role, list_users
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


@user.command("list")
def user_list() -> None:
    """Every admin UI user: email, role, last sign-in, disabled or not."""
    found = read_migrated(list_users)
    for row in found:
        last = f"{row['last_login_at']:%Y-%m-%d %H:%M}" if row["last_login_at"] else "never signed in"
        state = "disabled" if row["disabled_at"] else "active"
        click.echo(f"{row['email']}\t{row['role']}\t{last}\t{state}")
    if not found:
        err.print("No users yet: assent user create --email E --role admin")


@user.command("disable")
@click.option("--email", required=True, help="The user's sign-in email.")
@click.option("--enable", is_flag=True, help="Enable a disabled user again instead.")
def user_disable(email: str, enable: bool) -> None:
    """Disable a user (their sessions end at once), or with --enable let them sign in again.

    A user already in that state is left as they are (exit status 0, it says so); an email no
    user has is an error (exit status 1)."""
    _, db = _database()
    address = email.strip().lower()
    try:
        migrate(db)
        with db.read() as conn:
            match = next((u for u in list_users(conn) if u["email"] == address), None)
        if match is None:
            raise click.ClickException(f"no user {email!r}: see assent user list")
        if bool(match["disabled_at"]) == (not enable):
            err.print(f"{address} was already {'enabled' if enable else 'disabled'}; nothing changed.")
            return
        set_disabled(db, int(match["id"]), not enable, COMMAND_LINE)
    except Problem as problem:
        raise _problem(problem) from None
    finally:
        db.dispose()
    err.print(f"{'Enabled' if enable else 'Disabled'} {address}.")
