"""`assent demo`: the demo data set and the same sign-in and key `assent serve --demo` prints;
on a database that already has data it changes nothing, says so and exits 1."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from assent.storage.db import Database
from tests.admin.conftest import Admin
from tests.conftest import count_rows
from tests.imports.test_imports_cli import assent
from tests.serve_process import ServeProcess

KEY_LINE = re.compile(r"^A ready API key with admin scope:\n  (assent_\S+)\n  try: curl ", re.MULTILINE)
SIGN_IN = re.compile(r"^Admin UI: (\S+)/admin  ·  sign in as (\S+) / (\S+)$", re.MULTILINE)


def sign_in_printed(output: str) -> tuple[str, str, str, str]:
    key, sign_in = KEY_LINE.search(output), SIGN_IN.search(output)
    assert key, output
    assert sign_in, output
    return key.group(1), sign_in.group(1), sign_in.group(2), sign_in.group(3)


def test_demo_seeds_an_empty_database_and_prints_a_working_sign_in_and_key(
    database_url: str, tmp_path: Path, client: TestClient, db: Database
) -> None:
    seeded = assent(database_url, tmp_path, "demo")
    assert seeded.returncode == 0, seeded.stderr
    assert "Demo data seeded." in seeded.stderr
    key, url, email, password = sign_in_printed(seeded.stderr)
    assert (url, email) == ("http://127.0.0.1:8000", "admin@example.com")
    assert count_rows(db, "contacts") == 25
    headers = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/v1/business-units", json={"name": "Mine"}, headers=headers).status_code == 201  # admin
    assert Admin(client, email).sign_in(password).status_code == 303

    # the database has data now: nothing is seeded or issued, it says so, and exits 1
    again = assent(database_url, tmp_path, "demo")
    assert again.returncode == 1
    assert "already has data" in again.stderr
    assert "nothing seeded" in again.stderr
    assert "assent_" not in again.stderr
    assert count_rows(db, "contacts") == 25
    assert client.get("/api/v1/business-units", headers=headers).status_code == 200  # the key still works
    client.cookies.clear()
    assert Admin(client, email).sign_in(password).status_code == 303  # and so does the password


def test_demo_help_says_what_the_exit_status_means(database_url: str, tmp_path: Path) -> None:
    shown = assent(database_url, tmp_path, "demo", "--help")
    assert shown.returncode == 0
    assert "Exit status 0 when it seeded" in " ".join(shown.stdout.split())
    assert "exits with 1" in " ".join(shown.stdout.split())


def test_serve_demo_prints_the_same_sign_in(tmp_path: Path) -> None:
    env = {"ASSENT_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}", "ASSENT_SECRET_KEYS": "demo-secret"}
    with ServeProcess(tmp_path, env, "--demo", "--no-worker") as server:
        key, url, email, _ = sign_in_printed(server.output)
        assert (url, email) == (server.url, "admin@example.com")
    # the database has data now: `assent demo` leaves it as it is
    refused = assent(env["ASSENT_DATABASE_URL"], tmp_path, "demo")
    assert refused.returncode == 1
    listed = assent(env["ASSENT_DATABASE_URL"], tmp_path, "api-key", "list").stdout
    assert key.split("_")[1] in listed
