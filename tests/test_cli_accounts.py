"""`assent api-key list|revoke` and `assent user list|disable`: what the settings page does,
from the command line (both backends, a real `assent` process)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.admin.conftest import Admin
from tests.imports.test_imports_cli import assent


def test_it_lists_and_revokes_api_keys(database_url: str, tmp_path: Path, client: TestClient) -> None:
    created = assent(database_url, tmp_path, "api-key", "create", "--name", "mailer", "--scope", "read")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    key_id = key.split("_")[1]
    listed = assent(database_url, tmp_path, "api-key", "list")
    assert listed.returncode == 0, listed.stderr
    [line] = [row for row in listed.stdout.splitlines() if row.startswith(key_id)]
    assert line.split("\t")[1:3] == ["mailer", "read"]
    assert line.endswith("active")
    assert key not in listed.stdout  # the key itself is never shown again
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/subscription-types", headers=headers).status_code == 200
    revoked = assent(database_url, tmp_path, "api-key", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in assent(database_url, tmp_path, "api-key", "list").stdout.split(key_id)[1].splitlines()[0]
    # revoking it again changes nothing and says so: the key is revoked, as asked (exit 0)
    again = assent(database_url, tmp_path, "api-key", "revoke", key_id)
    assert (again.returncode, again.stderr.strip()) == (0, f"API key {key_id} was already revoked; nothing changed.")
    # an id no key has is an error that says so
    unknown = assent(database_url, tmp_path, "api-key", "revoke", "000000000000")
    assert unknown.returncode == 1
    assert "no API key '000000000000'" in unknown.stderr


def test_it_lists_and_disables_users(database_url: str, tmp_path: Path) -> None:
    made = assent(
        database_url, tmp_path, "user", "create", "--email", "Pat@Example.com", "--role", "editor",
        "--password", "a long and unusual passphrase",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    listed = assent(database_url, tmp_path, "user", "list").stdout.splitlines()
    assert [row.split("\t") for row in listed] == [["pat@example.com", "editor", "never signed in", "active"]]
    assert assent(database_url, tmp_path, "user", "disable", "--email", "pat@example.com").returncode == 0
    assert assent(database_url, tmp_path, "user", "list").stdout.strip().endswith("disabled")
    again = assent(database_url, tmp_path, "user", "disable", "--email", "pat@example.com")
    assert (again.returncode, again.stderr.strip()) == (0, "pat@example.com was already disabled; nothing changed.")
    assert assent(database_url, tmp_path, "user", "disable", "--email", "pat@example.com", "--enable").returncode == 0
    assert assent(database_url, tmp_path, "user", "list").stdout.strip().endswith("active")
    missing = assent(database_url, tmp_path, "user", "disable", "--email", "nobody@example.com")
    assert missing.returncode != 0
    assert "no user" in missing.stderr


def test_it_resets_a_password_and_the_old_one_stops_working(
    database_url: str, tmp_path: Path, client: TestClient
) -> None:
    old, new = "a long and unusual passphrase", "another quite unusual passphrase"
    made = assent(database_url, tmp_path, "user", "create", "--email", "pat@example.com", "--password", old)
    assert made.returncode == 0, made.stderr
    signed_in = Admin(client, "pat@example.com")
    assert signed_in.sign_in(old).status_code == 303
    assert signed_in.get("/admin/contacts", follow_redirects=False).status_code == 200
    reset = assent(database_url, tmp_path, "user", "reset-password", "--email", "pat@example.com", "--password", new)
    assert reset.returncode == 0, reset.stderr
    assert "their sessions ended" in reset.stderr
    assert signed_in.get("/admin/contacts", follow_redirects=False).status_code in (302, 303)  # signed out
    assert Admin(client, "pat@example.com").sign_in(old).status_code == 401
    assert Admin(client, "pat@example.com").sign_in(new).status_code == 303
    weak = assent(database_url, tmp_path, "user", "reset-password", "--email", "pat@example.com", "--password", "short")
    assert weak.returncode == 1
    assert "password" in weak.stderr
    missing = assent(
        database_url, tmp_path, "user", "reset-password", "--email", "nobody@example.com", "--password", new
    )
    assert missing.returncode == 1
