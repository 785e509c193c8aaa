"""`assent api-key list|revoke` and `assent user list|disable`: what the settings page does,
from the command line (both backends, a real `assent` process)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

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
    # revoking it again (or an unknown id) is an error that says so
    again = assent(database_url, tmp_path, "api-key", "revoke", key_id)
    assert again.returncode != 0
    assert "no active API key" in again.stderr


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
    assert assent(database_url, tmp_path, "user", "disable", "--email", "pat@example.com", "--enable").returncode == 0
    assert assent(database_url, tmp_path, "user", "list").stdout.strip().endswith("active")
    missing = assent(database_url, tmp_path, "user", "disable", "--email", "nobody@example.com")
    assert missing.returncode != 0
    assert "no user" in missing.stderr
