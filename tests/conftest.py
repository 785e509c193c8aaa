"""Fixtures: a fresh, migrated database per test, on SQLite and on PostgreSQL.

PostgreSQL is at ASSENT_TEST_POSTGRES_URL (default 127.0.0.1:5432, user postgres, database
test). Each test session migrates one template database; each test gets its own copy
(CREATE DATABASE … TEMPLATE), so tests never see each other's rows and the ledger's
append-only triggers never need bypassing. Without PostgreSQL the PostgreSQL half skips —
unless CI=true, where it fails.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assent.app import create_app
from assent.config import Settings
from assent.domain.model import Channel
from assent.services import catalog
from assent.services.apikeys import create_api_key
from assent.storage.db import Database
from assent.storage.migrate import migrate
from tests.browser import browser, live_server  # noqa: F401  (one Chromium for the whole session)

POSTGRES_URL = os.environ.get("ASSENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
_SESSION = uuid.uuid4().hex[:8]
_counter = itertools.count()


def _admin_dsn() -> str:
    url = sa.make_url(POSTGRES_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _postgres_or_skip() -> None:
    try:
        with psycopg.connect(_admin_dsn(), connect_timeout=3):
            pass
    except psycopg.OperationalError as error:
        if IN_CI:
            pytest.fail(f"CI=true and PostgreSQL is not reachable at {POSTGRES_URL}: {error}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")


def _pg_admin(sql: str) -> None:
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    _postgres_or_skip()
    name = f"assent_tpl_{_SESSION}_{os.getpid()}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
    _pg_admin(f'CREATE DATABASE "{name}"')
    db = Database(sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
    migrate(db)
    db.dispose()
    yield name
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "assent.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"assent_t_{_SESSION}_{os.getpid()}_{next(_counter)}"
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    yield sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_keys=("test-secret-key-newest", "test-secret-key-older"),
        base_url="http://testserver",
        run_worker=False,
    )


@pytest.fixture
def app(settings: Settings, db: Database) -> Any:
    return create_app(settings, db)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def _key(db: Database, *scopes: str) -> str:
    with db.write() as conn:
        return create_api_key(conn, f"test {'+'.join(scopes)}", scopes)[1]


@pytest.fixture
def admin_headers(db: Database) -> dict[str, str]:
    return {"Authorization": f"Bearer {_key(db, 'admin')}"}


@pytest.fixture
def write_headers(db: Database) -> dict[str, str]:
    return {"Authorization": f"Bearer {_key(db, 'write')}"}


@pytest.fixture
def read_headers(db: Database) -> dict[str, str]:
    return {"Authorization": f"Bearer {_key(db, 'read')}"}


class Catalog:
    """Factory for business units and subscription types."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def type(
        self, name: str = "Newsletter", channel: Channel = Channel.EMAIL, business_unit_id: int = 0, **extra: Any
    ) -> int:
        with self.db.write() as conn:
            created = catalog.create_subscription_type(
                conn, {"name": name, "channel": channel.value, "business_unit_id": business_unit_id, **extra}
            )
        return int(created["id"])

    def business_unit(self, name: str = "Brand", **extra: Any) -> int:
        with self.db.write() as conn:
            return int(catalog.create_business_unit(conn, {"name": name, **extra})["id"])


@pytest.fixture
def make(db: Database) -> Catalog:
    return Catalog(db)


def count_rows(db: Database, table: str) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
