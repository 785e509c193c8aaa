"""Sign-in throttling (issue 8, point 4): attempts are counted before the slow password hash,
atomically, per account and client and per client; a locked-out owner has ways back."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from assent.cli.main import cli
from assent.services.users import THROTTLE_LIMITS, create_user
from assent.storage.db import Database
from tests.admin.conftest import PASSWORD
from tests.conftest import count_rows

EMAIL = "owner@example.com"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def owner(db: Database) -> str:
    with db.write() as conn:
        create_user(conn, EMAIL, "admin", PASSWORD)
    return EMAIL


def from_ip(app: Any, ip: str) -> TestClient:
    return TestClient(app, client=(ip, 50000))


def attempt(client: TestClient, nonce: str, password: str) -> int:
    """One sign-in POST with the sign-in form's nonce (sent as its cookie, not the jar's)."""
    response = client.post(
        "/admin/login",
        data={"email": EMAIL, "password": password, "csrf_token": nonce},
        headers={"cookie": f"assent_signin={nonce}"},
        follow_redirects=False,
    )
    return response.status_code


def nonce_of(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/login").text)
    assert found
    client.cookies.clear()
    return found.group(1)


def test_a_hundred_parallel_wrong_passwords_get_five_guesses(app: Any, db: Database, owner: str) -> None:
    with from_ip(app, "198.51.100.7") as attacker:
        nonce = nonce_of(attacker)
        with ThreadPoolExecutor(max_workers=20) as pool:
            codes = list(pool.map(lambda i: attempt(attacker, nonce, f"guess number {i}"), range(100)))
        assert codes.count(401) == THROTTLE_LIMITS["pair"] == 5  # the password was checked
        assert codes.count(429) == 95  # refused before the hash
        # the right password from the locked-out client waits out the window too
        assert attempt(attacker, nonce, PASSWORD) == 429
    # the owner, from a client with no failures, signs in
    with from_ip(app, "203.0.113.20") as laptop:
        assert attempt(laptop, nonce_of(laptop), PASSWORD) == 303
    assert count_rows(db, "admin_sessions") == 1


def test_an_account_attacked_from_many_clients_still_lets_its_owner_in(app: Any, db: Database, owner: str) -> None:
    # 4 clients × 5 wrong guesses: the account's own limit (20) is used up
    for n in range(4):
        with from_ip(app, f"198.51.100.{n + 1}") as client:
            nonce = nonce_of(client)
            assert [attempt(client, nonce, "wrong password!") for _ in range(5)] == [401] * 5
    # past it, a new client gets one guess, then is locked out of this account
    with from_ip(app, "198.51.100.99") as client:
        nonce = nonce_of(client)
        assert attempt(client, nonce, "wrong password!") == 401
        assert attempt(client, nonce, PASSWORD) == 429
    # the owner's client, with no failures of its own, gets in with the right password
    with from_ip(app, "203.0.113.20") as laptop:
        assert attempt(laptop, nonce_of(laptop), PASSWORD) == 303


# The counting SQL is the parallel test's, on both backends; these two hash 30+ passwords
# each, so they run on one.
@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_client_is_limited_across_accounts(app: Any, db: Database) -> None:
    with from_ip(app, "198.51.100.50") as client:
        nonce = nonce_of(client)
        codes = []
        for n in range(THROTTLE_LIMITS["ip"] + 1):
            response = client.post(
                "/admin/login",
                data={"email": f"user{n}@example.com", "password": "wrong password!", "csrf_token": nonce},
                headers={"cookie": f"assent_signin={nonce}"},
                follow_redirects=False,
            )
            codes.append(response.status_code)
    assert codes == [401] * THROTTLE_LIMITS["ip"] + [429]


def test_reset_password_on_the_command_line_unlocks_the_account(
    app: Any, db: Database, owner: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with from_ip(app, "198.51.100.7") as client:
        nonce = nonce_of(client)
        for _ in range(6):
            attempt(client, nonce, "not the password")
        assert attempt(client, nonce, PASSWORD) == 429
        monkeypatch.setenv("ASSENT_DATABASE_URL", database_url)
        monkeypatch.setenv("ASSENT_SECRET_KEYS", "k")
        done = CliRunner().invoke(
            cli, ["user", "reset-password", "--email", EMAIL], input="a brand new passphrase\n" * 2
        )
        assert done.exit_code == 0, done.output
        assert "unlocked" in done.output
        assert attempt(client, nonce, PASSWORD) == 401  # the old password is gone
        assert attempt(client, nonce, "a brand new passphrase") == 303
    unknown = CliRunner().invoke(
        cli, ["user", "reset-password", "--email", "nobody@example.com", "--password", "x" * 12]
    )
    assert unknown.exit_code == 1
    assert "does not exist" in unknown.output


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_successful_sign_in_does_not_count_against_the_client(app: Any, owner: str) -> None:
    with from_ip(app, "198.51.100.8") as client:
        nonce = nonce_of(client)
        assert [attempt(client, nonce, PASSWORD) for _ in range(THROTTLE_LIMITS["pair"] + 3)] == [303] * 8
        # nor do earlier successes leave a failure budget smaller than five
        assert [attempt(client, nonce, "wrong password!") for _ in range(6)] == [401] * 5 + [429]
