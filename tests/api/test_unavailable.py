"""With the database unreachable, every interface answers 503 with Retry-After in its own
shape (issue 8 point 10), and `assent serve` says so in one line (no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assent.admin.security import SESSION_COOKIE
from assent.app import create_app
from assent.config import Settings
from tests.conftest import POSTGRES_URL, _postgres_or_skip

UNREACHABLE = {
    "closed-port": "postgresql+psycopg://postgres@127.0.0.1:9/assent",
    "missing-database": sa.make_url(POSTGRES_URL).set(database="assent_no_such_database").render_as_string(False),
}


@pytest.fixture(params=sorted(UNREACHABLE))
def down(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    if request.param == "missing-database":
        _postgres_or_skip()
    settings = Settings(database_url=UNREACHABLE[request.param], secret_keys=("k",), run_worker=False)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_the_api_answers_a_problem_document(down: TestClient) -> None:
    response = down.get("/api/v1/subscription-types", headers={"Authorization": "Bearer ak_x.y"})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "UNAVAILABLE"


def test_the_pages_answer_a_localized_page(down: TestClient) -> None:
    response = down.get("/preferences?lang=sv")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["retry-after"] == "5"
    assert "Försök igen om en stund" in response.text


def test_the_admin_answers_its_own_page(down: TestClient) -> None:
    down.cookies.set(SESSION_COOKIE, "some-session")
    response = down.get("/admin/contacts", follow_redirects=False)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["retry-after"] == "5"
    assert "The database cannot be reached" in response.text


def test_the_hubspot_api_answers_its_own_error_shape(down: TestClient) -> None:
    response = down.get("/communication-preferences/v3/definitions", headers={"Authorization": "Bearer ak_x.y"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["status"] == "error"
    assert "database cannot be reached" in body["message"]
    assert body["correlationId"] == response.headers["x-hubspot-correlation-id"]


def test_the_inbound_webhooks_answer_a_status_a_provider_retries() -> None:
    settings = Settings(
        database_url=UNREACHABLE["closed-port"],
        secret_keys=("k",),
        run_worker=False,
        postmark_webhook_user="u",
        postmark_webhook_password="p",
    )
    record = {"RecordType": "Bounce", "ID": 1, "Type": "HardBounce", "Email": "pat@example.com"}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.post("/inbound/postmark", json=record, auth=("u", "p"))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"


def test_ops_answer_plainly(down: TestClient) -> None:
    response = down.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["status"] == "unavailable"


def test_serve_against_a_wrong_database_says_so_in_one_line() -> None:
    env = {**os.environ, "ASSENT_DATABASE_URL": UNREACHABLE["closed-port"], "ASSENT_SECRET_KEYS": "k"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "assent"), "serve", "--port", "1"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "cannot reach the database" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "url",
    [
        "postgres://postgres:hunter2@127.0.0.1/assent",  # the Heroku spelling
        "mysql://assent@127.0.0.1/assent",  # a backend Assent has no driver for
        "not a url",
    ],
)
def test_serve_with_a_database_url_it_cannot_use_says_so_in_one_line(url: str) -> None:
    env = {**os.environ, "ASSENT_DATABASE_URL": url, "ASSENT_SECRET_KEYS": "k"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "assent"), "serve", "--port", "1"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ASSENT_DATABASE_URL is not a database URL Assent can open"), lines[0]
    assert "postgresql+psycopg://" in lines[0]
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("command", "environment", "said"),
    [
        (["worker", "--once"], {"ASSENT_DATABASE_URL": "postgres://postgres:hunter2@127.0.0.1/assent"},
         "Error: ASSENT_DATABASE_URL is not a database URL Assent can open"),
        (["migrate"], {"ASSENT_DATABASE_URL": UNREACHABLE["closed-port"]}, "cannot reach the database"),
        (["api-key", "list"], {"ASSENT_DATABASE_URL": "not a url"},
         "Error: ASSENT_DATABASE_URL is not a database URL Assent can open"),
        (["worker", "--once"], {"ASSENT_LINK_MAX_AGE_DAYS": "3"}, "Error: ASSENT_LINK_MAX_AGE_DAYS must be at least 60"),
    ],
    ids=["worker-url", "migrate-unreachable", "api-key-list-url", "worker-setting"],
)
def test_every_command_says_what_it_cannot_use_in_one_line(
    command: list[str], environment: dict[str, str], said: str
) -> None:
    env = {**os.environ, "ASSENT_SECRET_KEYS": "k", **environment}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "assent"), *command],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert said in lines[0], lines[0]
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
