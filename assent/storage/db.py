"""Engines and transactions, one code path for SQLite and PostgreSQL (STYLE §4)."""

from __future__ import annotations

import itertools
import json
import logging
import operator
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from psycopg.types.array import ListBinaryDumper
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from assent.config import Settings
from assent.storage.loop_reads import LoopReads

try:
    import fcntl
except ImportError:  # not POSIX: SQLite's writers wait in its busy handler (`WriteTurns`)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("assent.db")

#: `Connection.info` key under which the ledger leaves the last event id a write appended.
LAST_EVENT_ID = "assent_last_event_id"

#: Execution option of every engine: the phone region national numbers fall back to when the
#: account setting `default_phone_region` is unset (ASSENT_DEFAULT_PHONE_REGION, SPEC §3).
#: Read by one function only, `services.state.load_account`.
PHONE_REGION_FALLBACK = "assent_default_phone_region"


@dataclass
class Consistency:
    """What one request knows about ledger positions (read-your-writes, R12).

    `required` is the position a client sent back (`Assent-Consistency`): a replica may
    serve the request only once it has replayed at least that far. `committed` is the
    last ledger id the request's own writes committed, sent back to the client."""

    required: int | None = None
    committed: int | None = None


_consistency: ContextVar[Consistency | None] = ContextVar("assent_consistency", default=None)


def track_consistency(required: int | None = None) -> Consistency:
    """Start tracking positions for the current request (the holder is shared with the
    worker thread a sync handler runs in, since threads copy the context)."""
    holder = Consistency(required)
    _consistency.set(holder)
    return holder


#: Set while `Database.read_once` checks out a connection: it retries on a dead one
#: instead of pinging every checkout (`_ping_on_checkout`).
_no_ping: ContextVar[bool] = ContextVar("assent_no_ping", default=False)

T = TypeVar("T")

#: One query on a replica answers both questions: how far it has replayed (the ledger's
#: own counter, cheap), and how far behind the primary it is. An idle primary sends no
#: new transactions, so "received == replayed" while streaming counts as no lag.
_REPLICA_PROBE = sa.text(
    """
    SELECT (SELECT last_id FROM ledger_counter WHERE id = 1) AS last_id,
           pg_is_in_recovery() AS in_recovery,
           CASE
             WHEN NOT pg_is_in_recovery() THEN 0
             WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN NULL
             WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
             ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000, 0)
           END AS lag_ms
    """
)


@dataclass
class Replica:
    url: sa.URL
    engine: Engine
    #: after a failed connection the replica is skipped until this monotonic time
    down_until: float = 0.0
    last_error: str | None = field(default=None)


#: What the database driver raises when the database cannot be reached (down, wrong host or
#: name, a broken connection, SQLite's file locked for too long): every interface answers it
#: with 503 and this Retry-After, in its own error shape.
UNAVAILABLE: tuple[type[Exception], ...] = (sa.exc.OperationalError, sa.exc.InterfaceError)
RETRY_AFTER_SECONDS = 5


class Database:
    """A database and the kinds of transaction Assent runs on it: writes and reads on the
    primary, and reads that streaming replicas may serve (`read_replica`)."""

    #: how long a replica that failed to answer is left alone
    REPLICA_RETRY_SECONDS = 5.0

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        read_urls: Sequence[str] = (),
        max_replica_lag_ms: int = 500,
        default_phone_region: str | None = None,
    ) -> None:
        self.url = sa.make_url(url)
        if self.url.get_backend_name() == "sqlite":
            self.engine = _sqlite_engine(self.url)
        else:
            self.engine = sa.create_engine(self.url, pool_size=pool_size, max_overflow=20)
            # What pool_pre_ping does, except for `read_once`, which retries instead.
            sa.event.listen(self.engine, "checkout", _ping_on_checkout(self.engine.dialect))
            sa.event.listen(self.engine, "connect", _binary_arrays)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._turns = WriteTurns(self.url.database if self.is_sqlite else None)
        #: each statement its own transaction (`read_once`). SQLite's driver is in autocommit
        #: mode already: the same pool, only the "begin" hook is skipped. On PostgreSQL, a
        #: pool of its own whose connections stay in autocommit: the same pool with the
        #: option set and reset at every checkout cost about 70 µs a decision.
        self._autocommit: sa.Engine
        if self.is_sqlite:
            self._autocommit = self.engine.execution_options(assent_autocommit=True)
        else:
            self._autocommit = sa.create_engine(
                self.url, isolation_level="AUTOCOMMIT", pool_size=pool_size, max_overflow=pool_size
            )
            sa.event.listen(self._autocommit, "connect", _binary_arrays)
        #: the engines of the primary: whoever listens to the statements sent to it (tests
        #: that check what queries filter on, tracing) listens to each
        self.engines: tuple[sa.Engine, ...] = (self.engine,) if self.is_sqlite else (self.engine, self._autocommit)
        #: the single decision's statement, sent from the event loop (storage/loop_reads.py)
        self._loop_reads = None if self.is_sqlite else LoopReads(self.url, self._autocommit, pool_size)
        if read_urls and self.is_sqlite:
            raise ValueError("read replicas (ASSENT_READ_DATABASE_URL) need PostgreSQL")
        self.max_replica_lag_ms = max_replica_lag_ms
        self.replicas = [
            Replica(
                sa.make_url(u),
                sa.create_engine(
                    u, pool_size=pool_size, max_overflow=20, pool_pre_ping=True, connect_args={"connect_timeout": 2}
                ),
            )
            for u in read_urls
        ]
        for replica in self.replicas:
            sa.event.listen(replica.engine, "connect", _binary_arrays)
        self._turn = itertools.count()
        self._replica_lock = threading.Lock()
        self.use_default_phone_region(default_phone_region)

    def use_default_phone_region(self, region: str | None) -> None:
        """The region national phone numbers are read in when the account setting
        `default_phone_region` is unset (the setting wins when set)."""
        # on SQLite `_autocommit` is a copy of the engine's options made before: it is set too
        for engine in dict.fromkeys((*self.engines, self._autocommit, *(r.engine for r in self.replicas))):
            engine.update_execution_options(**{PHONE_REGION_FALLBACK: region})

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: a consistent snapshot, never blocks writers."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction. On SQLite it takes the write lock at BEGIN (IMMEDIATE), so
        two writers queue on busy_timeout instead of failing on a lock upgrade.

        After commit, the last ledger id it appended is the request's consistency position."""
        with self._turns.turn(), self.engine.connect() as conn:
            conn = conn.execution_options(assent_write=True)
            conn.info.pop(LAST_EVENT_ID, None)
            with conn.begin():
                yield conn
            last = conn.info.pop(LAST_EVENT_ID, None)
        holder = _consistency.get()
        if last is not None and holder is not None:
            holder.committed = max(holder.committed or 0, last)

    @contextmanager
    def read_replica(self, at_least: int | None = None) -> Iterator[Connection]:
        """A read that a streaming replica may serve (decisions, exports, history, the feed).

        A replica serves it only if it has replayed at least `at_least` (or the position
        the request carried), or — without a position — while its replay lag is within
        `max_replica_lag_ms`. Otherwise, or when no replica answers, the primary does:
        never a stale answer (R12), never a failed request because a replica is down."""
        conn = self._replica_connection(at_least)
        if conn is None:
            with self.read() as primary:
                yield primary
            return
        try:
            yield conn
            conn.commit()
        finally:
            conn.close()

    def read_once(self, work: Callable[[Connection], T], *, replicas: bool = True) -> T:
        """`work(conn)` for a read of a statement or two that a replica may serve (the
        single decision): on a replica exactly as `read_replica`; on the primary without a
        transaction around it (each statement sees every change committed before it began,
        as each does in a READ COMMITTED transaction: R12 holds) and without pinging the
        pooled connection first — if it turns out dead, `work` runs again, once, on a fresh
        one (a read is safe to repeat). One round trip per statement on PostgreSQL, where a
        transaction with a pre-ping costs three more.

        `replicas=False`: always the primary, as `read` is (for an interface whose clients
        send no consistency position to read their own writes by, HubSpot's)."""
        conn = self._replica_connection(None) if replicas else None
        if conn is not None:
            try:
                found = work(conn)
                conn.commit()
                return found
            finally:
                conn.close()
        token = _no_ping.set(True)
        try:
            try:
                with self._autocommit.connect() as conn:
                    return work(conn)
            except sa.exc.DBAPIError as error:
                if not error.connection_invalidated:
                    raise
            with self._autocommit.connect() as conn:  # the pool has dropped the dead connections
                return work(conn)
        finally:
            _no_ping.reset(token)

    def loop_reads(self) -> LoopReads | None:
        """Connections to read from on the event loop, when a read may go there: on
        PostgreSQL with no replica configured (which replica may serve a read, and whether
        it has replayed far enough, is `read_once`'s to find out) and while nobody listens
        to the statements sent to the primary (tests that check what queries filter on,
        tracing: they hear `read_once`'s). Their statements are `read_once`'s on the primary:
        no transaction around one, each seeing every change committed before it began."""
        if self._loop_reads is None or self.replicas:
            return None
        for engine in self.engines:
            if engine.dispatch.before_cursor_execute or engine.dispatch.after_cursor_execute:
                return None
        return self._loop_reads

    def _replica_connection(self, at_least: int | None) -> Connection | None:
        if not self.replicas:
            return None
        if at_least is None:
            holder = _consistency.get()
            at_least = holder.required if holder is not None else None
        start = next(self._turn)
        now = time.monotonic()
        for offset in range(len(self.replicas)):
            replica = self.replicas[(start + offset) % len(self.replicas)]
            if replica.down_until > now:
                continue
            conn = self._probe(replica, at_least)
            if conn is not None:
                return conn
        return None

    def _probe(self, replica: Replica, at_least: int | None) -> Connection | None:
        try:
            conn = replica.engine.connect()
        except sa.exc.OperationalError as error:
            self._mark_down(replica, error)
            return None
        try:
            conn.begin()
            row = conn.execute(_REPLICA_PROBE).one()
        except sa.exc.DBAPIError as error:
            conn.close()
            self._mark_down(replica, error)
            return None
        fresh = (
            row.last_id >= at_least
            if at_least is not None
            else row.lag_ms is not None and float(row.lag_ms) <= self.max_replica_lag_ms
        )
        if not fresh:
            conn.rollback()
            conn.close()
            return None
        return conn

    def _mark_down(self, replica: Replica, error: Exception) -> None:
        with self._replica_lock:
            if replica.down_until <= time.monotonic():
                log.warning("read replica %s unavailable: %s", replica.url.render_as_string(), type(error).__name__)
            replica.down_until = time.monotonic() + self.REPLICA_RETRY_SECONDS
            replica.last_error = type(error).__name__

    def replica_states(self) -> list[dict[str, Any]]:
        """Each replica's state for /readyz: reachable, how far replayed, how far behind."""
        states = []
        for replica in self.replicas:
            state: dict[str, Any] = {"url": replica.url.render_as_string(hide_password=True)}
            try:
                with replica.engine.connect() as conn:
                    row = conn.execute(_REPLICA_PROBE).one()
                state.update(
                    status="ok",
                    last_event_id=row.last_id,
                    lag_ms=None if row.lag_ms is None else round(float(row.lag_ms), 1),
                    serving=row.lag_ms is not None and float(row.lag_ms) <= self.max_replica_lag_ms,
                )
                replica.down_until = 0.0
            except sa.exc.DBAPIError as error:
                self._mark_down(replica, error)
                state.update(status="unavailable", error=type(error).__name__)
            states.append(state)
        return states

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
            driver_executemany(conn, f'INSERT INTO "{table.name}" ({quoted}) VALUES ({placeholders})', values)
            return
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
            for row in values:
                copy.write_row(row)

    def dispose(self) -> None:
        self._turns.close()
        if self._loop_reads is not None:
            self._loop_reads.close()
        for engine in self.engines:
            engine.dispose()
        for replica in self.replicas:
            replica.engine.dispose()


def _ping_on_checkout(dialect: sa.Dialect) -> Callable[..., None]:
    """SQLAlchemy's pool_pre_ping as a checkout hook, so that `read_once` can skip it: a
    pooled connection that does not answer is replaced before anyone uses it."""

    def ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if _no_ping.get():
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise sa.exc.DisconnectionError(str(error)) from error
            raise

    return ping


class DatabaseURLError(ValueError):
    """`ASSENT_DATABASE_URL` (or a replica's URL) names no database Assent can open: not a
    URL, or a backend it has no driver for. The message is one line, without the password."""


def open_database(settings: Settings, *, pool_size: int = 10) -> Database:
    """The database the settings name, with its read replicas."""
    try:
        return Database(
            settings.database_url,
            pool_size=pool_size,
            read_urls=settings.read_database_urls,
            max_replica_lag_ms=settings.max_replica_lag_ms,
            default_phone_region=settings.default_phone_region,
        )
    except (sa.exc.ArgumentError, ImportError) as error:
        # sa.exc.NoSuchModuleError (`postgres://`, an unknown backend) is an ArgumentError;
        # a dialect whose driver is not installed (`mysql://`) is an ImportError.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DatabaseURLError(
            f"ASSENT_DATABASE_URL is not a database URL Assent can open ({reason}); "
            "use sqlite:///path/to/assent.db or postgresql+psycopg://user:password@host/db"
        ) from None


def among(conn: Connection, column: sa.ColumnElement[Any], values: Iterable[Any]) -> sa.ColumnElement[bool]:
    """`column IN (values)` for a batch of keys. On PostgreSQL it is `column = ANY(:array)`:
    one parameter however many values, so neither SQLAlchemy nor the driver renders and
    parses a statement of a thousand placeholders on every call (that cost a chunk of a
    job more time than the server took to answer it). Its generic plan, which PostgreSQL
    may use once psycopg has prepared the statement (after its fifth run), stays a probe of
    the index per key; a custom plan for a thousand keys can be a scan of the whole table
    (the job worker used to force custom plans for `IN (<1000 parameters>)`, whose generic
    plan was the scan)."""
    listed = list(values)
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, listed, type_=postgresql.ARRAY(column.type)))
    # SQLite: the same one parameter, a JSON array read by `json_each` (in C). `IN (<list>)`
    # made SQLAlchemy coerce, name and render a placeholder per value on every execution,
    # which cost a 1,000-address chunk more than its queries; the plan is the same probe of
    # the column's index per value.
    each = sa.func.json_each(sa.bindparam(None, json.dumps(listed), type_=sa.String)).table_valued("value")
    return column.in_(sa.select(each.c.value))


def driver_fetchall(conn: Connection, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of one driver-SQL statement (the driver's placeholders), as plain tuples
    (none for a statement that returns none).

    `conn.exec_driver_sql` with its result handling skipped: on the single decision's two
    statements SQLAlchemy's execution context and result metadata cost five times the
    statement itself on SQLite (measured: 78 µs against 12 µs). Values come back as the
    driver gives them, which is what `exec_driver_sql` returns for untyped columns too.

    A driver error is handed to SQLAlchemy's own handling, so it is raised wrapped
    (`OperationalError` → 503) and a dead connection is invalidated with the pool
    (`Database.read_once` retries on it), as for every other statement. When anyone listens
    to the engine's statements (`before_cursor_execute`: tests that check what the queries
    filter on, tracing), the statement goes through SQLAlchemy so that they see it."""
    if conn.dispatch.before_cursor_execute or conn.dispatch.after_cursor_execute:
        result = conn.exec_driver_sql(sql, dict(params))
        return [tuple(row) for row in result] if result.returns_rows else []
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description is not None else []
    except conn.dialect.loaded_dbapi.Error as error:
        conn._handle_dbapi_exception(error, sql, params, cursor, None)  # always raises
        raise
    finally:
        cursor.close()


def driver_executemany(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """One driver-SQL statement (the driver's placeholders) for each row, the way of
    `driver_fetchall`: what `conn.exec_driver_sql(sql, rows)` does, without SQLAlchemy's
    execution context (a write of a batch of 100 runs several)."""
    if conn.dispatch.before_cursor_execute or conn.dispatch.after_cursor_execute:
        conn.exec_driver_sql(sql, list(rows))
        return
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, rows)
    except conn.dialect.loaded_dbapi.Error as error:
        conn._handle_dbapi_exception(error, sql, rows, cursor, None)  # always raises
        raise
    finally:
        cursor.close()


def unnest_select(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str] = (),
    exact: bool = False,
) -> tuple[list[str], str, dict[str, Any]]:
    """PostgreSQL: rows as the text of `SELECT … FROM unnest(…)`, the same whatever their
    number, and its parameters: each column one array, or, when it holds the same value in
    every row and is not one of `keys`, that value once (one batch's time, source, channel,
    evidence). Returns the column names (in the SELECT's order), the SELECT and the
    parameters. Each value is cast to its column's type; `exact` leaves out lengths, whose
    explicit cast would cut a longer text where an INSERT or COPY refuses it."""
    names, values = driver_rows(conn, table, rows)
    columns_of_values = list(zip(*values, strict=True))
    params: dict[str, Any] = {}
    arrays, picked = [], []
    for index, (name, column) in enumerate(zip(names, columns_of_values, strict=True)):
        sql_type = table.c[name].type.compile(conn.dialect)
        if exact:
            sql_type = _LENGTH.sub("", sql_type)
        if name not in keys and column.count(column[0]) == len(column):
            params[f"c{index}"] = column[0]
            picked.append(f"%(c{index})s::{sql_type}")
        else:
            params[f"c{index}"] = list(column)
            arrays.append((f"c{index}", f"%(c{index})s::{sql_type}[]"))
            picked.append(f"u.c{index}")
    unnest = f"unnest({', '.join(array for _, array in arrays)}) AS u({', '.join(alias for alias, _ in arrays)})"
    return names, f"SELECT {', '.join(picked)} FROM {unnest}", params


_LENGTH = re.compile(r"\(\d+\)")

_MEMBERSHIP = re.compile(r"\b([\w.]+) IN :(\w+)\b")
_SCALAR = re.compile(r"(?<![:\w]):(\w+)\b")


class FixedSQL:
    """A statement of fixed text, whatever the number of keys it reads, run on the driver's
    cursor (`driver_fetchall`): what `among` does for a SQLAlchemy statement, without building,
    compiling and caching a statement and handling its result on every call (a writer's four
    lookups of a batch of 100 cost three times their SQLite work that way).

    `column IN :name` tests membership in a sequence bound as one value (a JSON array read by
    `json_each` on SQLite, an array with `= ANY` on PostgreSQL: the plans `among` explains);
    any other `:name` is a plain parameter. Rows come back as the driver's tuples.

    `postgresql`: the statement as PostgreSQL should run it, where its planner needs a hint
    (written the same way, with the same parameters)."""

    def __init__(self, sql: str, postgresql: str | None = None) -> None:
        self.lists = frozenset(name for _, name in _MEMBERSHIP.findall(sql))
        sqlite = _MEMBERSHIP.sub(r"\1 IN (SELECT value FROM json_each(:\2))", sql)
        postgres = _MEMBERSHIP.sub(r"\1 = ANY(:\2)", postgresql or sql)
        self.text = {"sqlite": sqlite, "postgresql": _SCALAR.sub(r"%(\1)s", postgres)}

    def fetchall(self, conn: Connection, **params: Any) -> list[tuple[Any, ...]]:
        dialect = conn.dialect.name
        wrap = json.dumps if dialect == "sqlite" else _same
        bound = {name: wrap(list(value)) if name in self.lists else value for name, value in params.items()}
        return driver_fetchall(conn, self.text[dialect], bound)


def _same(value: Any) -> Any:
    return value


def probe_by_key(conn: Connection) -> None:
    """For the rest of this transaction, read the batch lookups' rows by their keys' index.

    A job chunk or a dry-run step looks up 1,000–5,000 keys at once (`= ANY(array)`). With
    its default costs PostgreSQL plans that as a scan of the whole table once the table is
    not much larger than, say, 50 times the batch, or when its statistics still describe a
    table that an import has just filled (measured at 100,000 addresses: 9–18 ms for a
    scan of addresses or wide_opt_outs, 1.2–3.6 ms for the probes, per 1,000 keys). A scan
    is then priced as a last resort; the statements and their results are the same. SQLite
    plans its `json_each` lookups as probes already."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")


def driver_rows(
    conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows as the driver takes them: column names, and value tuples already converted
    the way SQLAlchemy would convert them (UTC datetimes, JSON).

    Column by column: the values are picked with one `itemgetter` per row, and only the
    columns that have a processor are converted (with `map`), so a wide ledger row costs a
    few C calls rather than a Python call per value."""
    names = list(rows[0].keys())
    if len(names) == 1:
        [name] = names
        process = _bind_processor(table.c[name], conn.dialect)
        single = [row[name] for row in rows]
        return names, [(v,) for v in (map(_last_value_memo(process), single) if process else single)]
    pick = operator.itemgetter(*names)
    values: list[tuple[Any, ...]] = [pick(row) for row in rows]
    processors = [(i, _bind_processor(table.c[name], conn.dialect)) for i, name in enumerate(names)]
    processors = [(i, p) for i, p in processors if p is not None]
    if not processors:
        return names, values
    columns: list[Any] = list(zip(*values, strict=True))
    for index, process in processors:
        columns[index] = list(map(_last_value_memo(process), columns[index]))
    return names, list(zip(*columns, strict=True))


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


def _binary_arrays(dbapi_connection: Any, _record: Any) -> None:
    """PostgreSQL: send every list parameter (the `= ANY(:array)` batches, the columns of
    `INSERT … SELECT FROM unnest(…)`) as a binary array. psycopg's text format quotes each
    element with a regular expression; the binary format costs a fifth of that CPU (a
    thousand-address chunk binds a dozen such arrays)."""
    dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


class WriteTurns:
    """SQLite's writers one at a time, each woken as soon as the one before it has finished.

    SQLite lets one transaction write at a time. A writer that finds the database taken
    waits in SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25… ms between tries
    whatever the other writer does: with a few concurrent writes of 10 ms each, most of the
    time goes to sleeping past the moment the lock was free (HubSpot batch writes from four
    clients: p99 575 ms). Here the writers of a process queue on a lock, and the processes
    on one database (`assent serve --workers`, `assent worker`) on a `flock` of a file beside
    it, tried every 0.1–1 ms: a writer starts at most a millisecond after the one before.

    Only the order changes: SQLite still locks, and whoever writes without a turn (another
    program, or a writer that waited longer than SQLite's own busy timeout for one: it goes
    on and lets SQLite decide) is still excluded by SQLite. PostgreSQL (no path): no turns."""

    TIMEOUT_SECONDS = 30.0  # as the connections' busy_timeout

    def __init__(self, path: str | None) -> None:
        self._path = f"{path}-writers" if path and path != ":memory:" and fcntl is not None else None
        self._lock = threading.RLock()
        self._depth = 0  # changed only by the thread holding `_lock`
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        if self._path is None:
            yield
            return
        if not self._lock.acquire(timeout=self.TIMEOUT_SECONDS):
            yield  # SQLite's busy timeout decides
            return
        locked = False
        try:
            self._depth += 1
            if self._depth == 1:
                locked = self._flock()
            yield
        finally:
            self._depth -= 1
            if locked and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._lock.release()

    def _flock(self) -> bool:
        if self._fd is None or self._pid != os.getpid():  # a forked process opens its own
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)  # type: ignore[arg-type]
            self._pid = os.getpid()
        deadline = time.monotonic() + self.TIMEOUT_SECONDS
        pause = 0.0001
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(pause)
                pause = min(pause * 2, 0.001)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


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
        # A chunk of a bulk job writes thousands of rows spread over several large indexes:
        # with SQLite's default 2 MB page cache it evicts and reads pages back within one
        # transaction, and with its default checkpoint every 1,000 pages (4 MB) of WAL nearly
        # every commit copies the WAL into the database and waits for the disk. 64 MB of
        # cache (allocated only as pages are read) and a checkpoint every 20,000 pages took a
        # 100,000-contact workflow enrollment from 32 s to 21 s on this machine.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA wal_autocheckpoint=20000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("assent_autocommit", False):  # `Database.read_once`
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("assent_write", False) else "BEGIN")

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
