"""Passwords (issue 8, point 12): common ones, blank ones and the account's own email are
refused with a clear message, on the command line and in the admin's user forms."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from assent.cli.main import cli
from assent.services.passwords import password_problem
from assent.storage.db import Database
from tests.admin.conftest import PASSWORD, text_of
from tests.conftest import count_rows


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("qwertyuiop", "one of the most common passwords"),
        ("Password123", "one of the most common passwords"),
        ("  1234567890 ", "one of the most common passwords"),
        (" " * 12, "only spaces"),
        ("\t \u00a0" * 4, "only spaces"),
        ("short", "at least 10 characters"),
        ("Pat.Doe@Example.com", "your email address"),
        ("pat.doe@example.com", "your email address"),
    ],
)
def test_it_refuses_weak_passwords(password: str, reason: str) -> None:
    problem = password_problem(password, "pat.doe@example.com")
    assert problem is not None
    assert reason in problem


def test_it_accepts_a_long_uncommon_password() -> None:
    assert password_problem(PASSWORD, "pat.doe@example.com") is None
    assert password_problem("x" * 12, "pat.doe@example.com") is None


def test_the_command_line_names_the_reason_and_creates_nobody(
    database_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSENT_DATABASE_URL", database_url)
    monkeypatch.setenv("ASSENT_SECRET_KEYS", "k")
    runner = CliRunner()
    common = runner.invoke(cli, ["user", "create", "--email", "root@example.com", "--password", "password123"])
    assert common.exit_code == 1
    assert "password: this is one of the most common passwords" in common.output
    blank = runner.invoke(cli, ["user", "create", "--email", "root@example.com", "--password", " " * 12])
    assert blank.exit_code == 1
    assert "only spaces" in blank.output
    own = runner.invoke(cli, ["user", "create", "--email", "root@example.com", "--password", "root@example.com"])
    assert own.exit_code == 1
    assert "do not use your email address" in own.output
    assert count_rows(db, "users") == 0


def test_the_admin_forms_name_the_reason(sign_in: Any, db: Database) -> None:
    alice = sign_in("admin", "alice@example.com")
    added = alice.post(
        "/admin/settings/users", {"email": "bob@example.com", "role": "viewer", "password": "1234567890"}
    )
    assert added.status_code == 422
    assert "this is one of the most common passwords" in text_of(added.text)
    assert count_rows(db, "users") == 1
    alice.post("/admin/settings/users", {"email": "bob@example.com", "role": "viewer", "password": PASSWORD})
    page = alice.get("/admin/settings")
    bob = page.text.split('action="/admin/settings/users/')[-1].split('"')[0]
    changed = alice.post(f"/admin/settings/users/{bob}", {"action": "password", "password": "bob@example.com"})
    assert changed.status_code == 303
    shown = text_of(alice.get(changed.headers["location"].removeprefix("http://testserver")).text)
    assert "do not use your email address as your password" in shown
