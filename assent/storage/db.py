"""Engines and transactions, one code path for SQLite and PostgreSQL (STYLE §4)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

#: What the database driver raises when the database cannot be reached (down, wrong host or
#: name, a broken connection, SQLite's file locked for too long): every interface answers it
#: with 503 and this Retry-After, in its own error shape.
UNAVAILABLE: tuple[type[Exception], ...] = (sa.exc.OperationalError, sa.exc.InterfaceError)
RETRY_AFTER_SECONDS = 5


class Database:
    """A database and the two kinds of transaction Assent runs on it."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = sa.make_url(url)
        if self.url.get_backend_name() == "sqlite":
            self.engine = _sqlite_engine(self.url)
        else:
            self.engine = sa.create_engine(self.url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)
        self.is_sqlite = self.engine.dialect.name == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: a consistent snapshot, never blocks writers."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction. On SQLite it takes the write lock at BEGIN (IMMEDIATE), so
        two writers queue on busy_timeout instead of failing on a lock upgrade."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(assent_write=True)
            with conn.begin():
                yield conn

    def bulk_insert(self, conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert many rows: COPY on PostgreSQL, the driver's executemany on SQLite (in
        process, so a row per call costs microseconds; SQLAlchemy's per-row handling is
        skipped because values are prepared here once)."""
        if not rows:
            return
        names, values = driver_rows(conn, table, rows)
        quoted = ", ".join(f'"{name}"' for name in names)
        if self.is_sqlite:
            placeholders = ", ".join("?" for _ in names)
            conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({placeholders})', values)
            return
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
            for row in values:
                copy.write_row(row)

    def dispose(self) -> None:
        self.engine.dispose()


def driver_rows(
    conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows as the driver takes them: column names, and value tuples already converted
    the way SQLAlchemy would convert them (UTC datetimes, JSON)."""
    names = list(rows[0].keys())
    processors = [_last_value_memo(_bind_processor(table.c[name], conn.dialect)) for name in names]
    if not any(processors):
        return names, [tuple(row[name] for name in names) for row in rows]
    pairs = list(zip(names, processors, strict=True))
    return names, [tuple(p(row[n]) if p else row[n] for n, p in pairs) for row in rows]


def _last_value_memo(process: Any) -> Any:
    """Bulk rows repeat values (one `at` for a whole chunk): convert each run once."""
    if process is None:
        return None
    last: list[Any] = [object(), None]

    def memo(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return memo


def _bind_processor(column: sa.Column[Any], dialect: sa.Dialect) -> Any:
    """What SQLAlchemy would do to a value before binding it: the dialect's own processor
    (on SQLite, datetimes become text rather than going through sqlite3's default adapter,
    deprecated since Python 3.12). JSON is left to the driver's adapter by SQLAlchemy on
    PostgreSQL, which COPY and arrays do not use: it is serialized here on both."""
    if isinstance(column.type, sa.JSON):
        return lambda value: None if value is None else json.dumps(value)
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _sqlite_engine(url: sa.URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        poolclass=sa.pool.QueuePool,
        pool_size=8,
        max_overflow=16,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Python's sqlite3 does not BEGIN before SELECT, DDL or SAVEPOINT: take control of
        # transactions ourselves (the "begin" hook below), or savepoints silently do nothing.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("assent_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
