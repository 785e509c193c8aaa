"""The storage layer's own promises, on both backends."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from assent.storage import tables as t
from assent.storage.db import Database, driver_fetchall


def test_bulk_insert_writes_json_and_utc_datetimes(db: Database) -> None:
    at = t.now()
    rows = [
        {
            "email": f"p{i}@example.com",
            "email_key": f"p{i}@example.com",
            "properties": {"tier": i},
            "created_at": at,
            "updated_at": at,
        }
        for i in range(3)
    ]
    with db.write() as conn:
        db.bulk_insert(conn, t.contacts, rows)
    with db.read() as conn:
        stored = conn.execute(
            sa.select(t.contacts.c.properties, t.contacts.c.created_at).order_by(t.contacts.c.id)
        ).all()
    assert [r.properties for r in stored] == [{"tier": 0}, {"tier": 1}, {"tier": 2}]
    assert all(r.created_at == at for r in stored)


def test_a_failed_write_transaction_leaves_nothing(db: Database) -> None:
    at = t.now()

    def write_then_fail() -> None:
        with db.write() as conn:
            conn.execute(t.contacts.insert().values(email="x@example.com", properties={}, created_at=at, updated_at=at))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_then_fail()
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.contacts)).scalar_one() == 0


def test_savepoints_really_roll_back(db: Database) -> None:
    # The pysqlite trap (STYLE.md): without our own BEGIN, a savepoint rollback does nothing.
    at = t.now()
    with db.write() as conn:
        conn.execute(t.contacts.insert().values(email="kept@example.com", properties={}, created_at=at, updated_at=at))
        savepoint = conn.begin_nested()
        conn.execute(
            t.contacts.insert().values(email="undone@example.com", properties={}, created_at=at, updated_at=at)
        )
        savepoint.rollback()
    with db.read() as conn:
        assert conn.execute(sa.select(t.contacts.c.email)).scalars().all() == ["kept@example.com"]


def test_foreign_keys_are_enforced(db: Database) -> None:
    at = t.now()
    with pytest.raises(sa.exc.IntegrityError), db.write() as conn:
        conn.execute(
            t.subscription_types.insert().values(
                business_unit_id=999,
                channel="EMAIL",
                name="x",
                description="",
                is_active=True,
                position=1,
                translations={},
                created_at=at,
                updated_at=at,
            )
        )


def _address_row(address: str = "a@example.com") -> dict[str, object]:
    at = t.now()
    return {
        "address": address,
        "display": address,
        "undeliverable": False,
        "soft_bounces": 0,
        "created_at": at,
        "updated_at": at,
    }


def test_enum_columns_refuse_values_outside_their_enum(db: Database) -> None:
    at = t.now()
    row = _address_row()
    with db.write() as conn:
        conn.execute(t.addresses.insert().values(channel="EMAIL", **row))
    with pytest.raises(sa.exc.IntegrityError), db.write() as conn:
        conn.execute(t.addresses.insert().values(channel="PIGEON", **{**row, "address": "b@example.com"}))
    with pytest.raises(sa.exc.IntegrityError), db.write() as conn:
        conn.execute(sa.update(t.addresses).values(confirmation="MAYBE"))
    with pytest.raises(sa.exc.IntegrityError), db.write() as conn:
        conn.execute(
            t.jobs.insert().values(id="job_x", kind="BULK_UPDATE", status="PAUSED", params={}, counts={}, created_at=at)
        )
    with db.read() as conn:
        assert conn.execute(sa.select(t.addresses.c.channel, t.addresses.c.confirmation)).all() == [("EMAIL", None)]


def test_migration_0007_lists_exactly_the_enums_values_tables_checks() -> None:
    """The migration freezes the values; `tables.py` derives them from the enums. When an
    enum grows, this fails until a migration adds the value to the database's CHECK. (Later
    tables created with their CHECKs list them the same way: 0013's webhooks and mail queue.)"""
    import importlib

    frozen: dict[str, list[tuple[str, str]]] = {}
    for migration in ("0007_enum_checks", "0013_webhooks_and_mail_queue"):
        checks = importlib.import_module(f"assent.storage.migrations.versions.{migration}").CHECKS
        for table, listed in checks.items():
            frozen.setdefault(table, []).extend(listed)
    built = {
        table.name: sorted((c.name, str(c.sqltext)) for c in table.constraints if isinstance(c, sa.CheckConstraint))
        for table in t.metadata.sorted_tables
    }
    assert {name: sorted(checks) for name, checks in frozen.items()} == {k: v for k, v in built.items() if v}


def _in_transaction(conn: sa.Connection) -> bool:
    driver = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        return bool(driver.in_transaction)  # type: ignore[union-attr]
    return not driver.autocommit  # type: ignore[union-attr]


def test_read_once_runs_without_a_transaction_and_leaves_the_pool_transactional(db: Database) -> None:
    def work(conn: sa.Connection) -> tuple[int, bool]:
        found = conn.exec_driver_sql("SELECT count(*) FROM subscription_types").scalar_one()
        return found, _in_transaction(conn)

    assert db.read_once(work) == (0, False)
    # the same pooled connection, used by the transactions after it
    with db.read() as conn:
        conn.exec_driver_sql("SELECT 1")
        assert _in_transaction(conn)

    def write_then_fail() -> None:
        with db.write() as conn:
            conn.execute(t.business_units.insert().values(name="Gone", created_at=t.now(), updated_at=t.now()))
            assert _in_transaction(conn)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert db.read_once(lambda conn: conn.exec_driver_sql("SELECT count(*) FROM business_units").scalar_one()) == 1


@pytest.mark.parametrize("backend", ["postgresql"])  # a server that closes connections
def test_a_dead_pooled_connection_fails_no_read(db: Database) -> None:
    """read_once retries on a connection the server closed; every other checkout pings."""
    dsn = db.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def pid(conn: sa.Connection) -> int:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())

    def kill(victim: int) -> None:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (victim,))

    first = db.read_once(pid)
    kill(first)
    second = db.read_once(pid)
    assert second != first
    kill(second)
    with db.read() as conn:
        assert pid(conn) not in (first, second)


def _basis_sql(db: Database) -> str:
    """A statement with a JSON column, in the driver's placeholders."""
    placeholder = ":type_id" if db.is_sqlite else "%(type_id)s"
    return f"SELECT id, name, quiet_hours FROM business_units WHERE id = {placeholder}"


def test_driver_fetchall_gives_what_exec_driver_sql_gives(db: Database) -> None:
    with db.write() as conn:
        conn.execute(t.business_units.update().values(quiet_hours={"SMS": {"start": "08:00", "end": "20:00"}}))
    sql = _basis_sql(db)
    with db.read() as conn:
        through_sqlalchemy = [tuple(row) for row in conn.exec_driver_sql(sql, {"type_id": 0})]
        assert driver_fetchall(conn, sql, {"type_id": 0}) == through_sqlalchemy
        assert driver_fetchall(conn, sql, {"type_id": 12345}) == []


def test_a_driver_statement_error_is_raised_as_sqlalchemy_raises_it(db: Database) -> None:
    with db.read() as conn, pytest.raises(sa.exc.DBAPIError) as raised:
        driver_fetchall(conn, "SELECT missing FROM no_such_table", {})
    assert isinstance(raised.value.orig, db.engine.dialect.loaded_dbapi.Error)
    assert not raised.value.connection_invalidated
    assert db.read_once(lambda conn: driver_fetchall(conn, _basis_sql(db), {"type_id": 0}))[0][0] == 0


def test_whoever_listens_to_the_engine_sees_driver_statements(db: Database) -> None:
    seen: list[str] = []

    def before(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    for engine in db.engines:
        sa.event.listen(engine, "before_cursor_execute", before)
    try:
        db.read_once(lambda conn: driver_fetchall(conn, _basis_sql(db), {"type_id": 0}))
        assert seen == [_basis_sql(db)]
        with db.read() as conn:  # the other engine of PostgreSQL's primary
            driver_fetchall(conn, _basis_sql(db), {"type_id": 0})
        assert seen[1:] in (["BEGIN", _basis_sql(db)], [_basis_sql(db)])  # SQLite's BEGIN is a statement
    finally:
        for engine in db.engines:
            sa.event.remove(engine, "before_cursor_execute", before)


@pytest.mark.parametrize("backend", ["postgresql"])  # a server that closes connections
def test_a_dead_pooled_connection_fails_no_driver_read(db: Database) -> None:
    """A driver statement on a connection the server closed invalidates it, as SQLAlchemy's
    own statements do: `read_once` runs it again on a fresh one."""
    dsn = db.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def pid(conn: sa.Connection) -> int:
        return int(driver_fetchall(conn, "SELECT pg_backend_pid()", {})[0][0])

    first = db.read_once(pid)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (first,))
    assert db.read_once(pid) != first


def test_sqlite_checks_enum_values_by_comparisons_and_still_refuses_others(tmp_path) -> None:
    """Migration 0017: SQLite's `col IN (…)` CHECKs build a temporary index per row written;
    as comparisons they accept and refuse exactly the same values."""
    from assent.storage.migrate import migrate

    db = Database(f"sqlite:///{tmp_path / 'checks.db'}")
    migrate(db)
    with db.read() as conn:
        schema = "\n".join(
            sql for (sql,) in conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")
        )
        triggers = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())
    assert " IN ('" not in schema
    assert "CHECK ((kind = 'CONFIRMATION' OR kind = 'ERASURE'" in schema
    assert {"ledger_events_no_update", "ledger_events_no_delete"} <= triggers  # the guard came back
    row = _address_row()
    with db.write() as conn:
        conn.execute(t.addresses.insert().values(channel="WHATSAPP", **row))
    with pytest.raises(sa.exc.IntegrityError), db.write() as conn:
        conn.execute(t.addresses.insert().values(channel="WHATSAPPS", **{**row, "address": "b@example.com"}))
    with db.write() as conn:  # NULL passes, as it did
        conn.execute(sa.update(t.addresses).values(confirmation=None))
    db.dispose()


def test_sqlite_writers_of_two_processes_take_turns_and_each_writes(tmp_path: Path) -> None:
    """Two Databases on one file stand for two processes (each its own lock and `flock`):
    a writer waits for the other's commit and begins at once after it (SQLite's own busy
    handler would try again only at its next step: 78 ms later at this point); neither is
    refused."""
    import threading
    import time

    from assent.storage.migrate import migrate

    url = f"sqlite:///{tmp_path / 'turns.db'}"
    first, second = Database(url), Database(url)
    migrate(first)
    committed: list[float] = []
    holding = threading.Event()

    def slow_writer() -> None:
        with first.write() as conn:
            holding.set()
            conn.execute(sa.insert(t.business_units).values(id=7, name="Slow", created_at=t.now(), updated_at=t.now()))
            time.sleep(0.35)
        committed.append(time.monotonic())

    thread = threading.Thread(target=slow_writer)
    thread.start()
    holding.wait(5)
    try:
        with second.write() as conn:
            began = time.monotonic()
            conn.execute(sa.insert(t.business_units).values(id=8, name="Quick", created_at=t.now(), updated_at=t.now()))
        thread.join()
        assert committed
        assert 0 <= began - committed[0] < 0.04
        with first.read() as conn:
            names = conn.execute(sa.select(t.business_units.c.name).where(t.business_units.c.id.in_([7, 8])))
            assert sorted(names.scalars()) == ["Quick", "Slow"]
    finally:
        first.dispose()
        second.dispose()
