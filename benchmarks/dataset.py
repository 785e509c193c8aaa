"""The benchmark data set: built once per (backend, scale), kept, and copied for each run.

N email addresses (1,000,000 at full scale) over 5 subscription types in 3 business units,
with a mix of statuses, wide opt-outs, bounces, pending confirmations and erasures, one
contact per address, and a ledger holding one event per stored status and wide opt-out.
The people are generated in Python and loaded set-based (COPY on PostgreSQL, executemany
on SQLite) into a staging table; every other table is derived from it with one
`INSERT … SELECT` each, in SQL both backends speak, so the two data sets are identical.
Runs work on a copy (CREATE DATABASE … TEMPLATE / a file copy), so the writes one run
makes never change what the next one measures.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.services import catalog
from assent.services.chain import chain_existing
from assent.services.state import Account, load_account
from assent.storage import tables as t
from assent.storage.db import Database
from assent.storage.ledger_guard import create_ledger_guard, drop_ledger_guard
from assent.storage.migrate import migrate

#: bump when the generated data changes shape, so cached data sets are rebuilt
VERSION = 6
DATA_DIR = Path(__file__).parent / ".data"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

FIRST = ("anna", "erik", "maria", "lars", "karin", "anders", "eva", "johan", "sara", "per", "emma", "karl")
LAST = ("smith", "berg", "lund", "ek", "holm", "strand", "dahl", "nyberg", "wall", "forsberg", "lind", "hall")
DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com", "gmx.de"] + [
    f"company{i}.com" for i in range(40)
]

# (name, business unit index, share SUBSCRIBED %, share UNSUBSCRIBED %)
TYPES = [
    ("Newsletter", 0, 45, 8),
    ("Product updates", 0, 30, 5),
    ("Newsletter", 1, 40, 10),
    ("Offers", 1, 25, 12),
    ("Newsletter", 2, 35, 6),
]
WIDE_OPT_OUT_PERCENT = (5, 3, 4)  # per business unit
UNDELIVERABLE_PER_MILLE = 15
PENDING_PER_MILLE = 5  # double opt-in is on in the third business unit
CONFIRMED_PERCENT = 30
ERASED_EVERY = 2000  # 0.05 % of the people were erased (R22) and later opted out again
ERASED_AT = dt.datetime(2025, 1, 2, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Dataset:
    backend: str
    scale: int
    template_url: str
    type_ids: tuple[int, ...]
    business_unit_ids: tuple[int, ...]
    audience_csv: Path
    audience_ndjson: Path

    def copy_for_run(self, run: str) -> str:
        """A fresh copy of the template; returns its URL."""
        url = sa.make_url(self.template_url)
        if self.backend == "sqlite":
            assert url.database
            source = Path(url.database)
            target = source.with_name(f"run-{run}-{source.name}")
            drop_sqlite(target)
            shutil.copyfile(source, target)
            return f"sqlite:///{target}"
        name = f"{url.database}_run_{run}"
        admin = _admin_dsn(self.template_url)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}" STRATEGY FILE_COPY')
        return url.set(database=name).render_as_string(hide_password=False)

    def drop_copy(self, url_text: str) -> None:
        url = sa.make_url(url_text)
        if self.backend == "sqlite":
            assert url.database
            drop_sqlite(Path(url.database))
            return
        with psycopg.connect(_admin_dsn(url_text), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def drop_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".secret"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _admin_dsn(url_text: str) -> str:
    url = sa.make_url(url_text).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


def person(i: int) -> tuple[str, str, str]:
    """(address key, first name, last name) of person i — deterministic."""
    first = FIRST[i % len(FIRST)]
    last = LAST[(i * 7) % len(LAST)]
    domain = DOMAINS[(i * 13) % len(DOMAINS)]
    local = f"{first}.{last}{i}" if i % 3 else f"{first}{i}+news"
    return f"{local}@{domain}", first, last


def ensure(backend: str, scale: int, postgres_url: str, log: Any) -> Dataset:
    """The data set for (backend, scale), built unless a complete one is cached."""
    DATA_DIR.mkdir(exist_ok=True)
    if backend == "sqlite":
        url = f"sqlite:///{DATA_DIR / f'assent-{scale}.db'}"
    else:
        # ASSENT_BENCH_TAG keeps the data sets of several checkouts sharing one server apart
        tag = "".join(c for c in os.environ.get("ASSENT_BENCH_TAG", "") if c.isalnum() or c == "_")
        name = f"assent_bench_{scale}" + (f"_{tag}" if tag else "")
        url = sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    # the upload names people of the data set: it belongs to one version of it
    audience_csv = DATA_DIR / f"audience-{scale}-v{VERSION}.csv"
    audience_ndjson = DATA_DIR / f"audience-{scale}-v{VERSION}.ndjson"
    meta = _cached_meta(backend, url)
    if meta is None or meta.get("version") != VERSION or meta.get("scale") != scale:
        started = time.perf_counter()
        log(f"[{backend}] building the data set for {scale:,} addresses (cached afterwards) …")
        meta = _build(backend, url, scale, log)
        log(f"[{backend}] built in {time.perf_counter() - started:.0f} s")
    if not audience_csv.exists() or not audience_ndjson.exists():
        _write_audience(scale, audience_csv, audience_ndjson)
    return Dataset(
        backend,
        scale,
        url,
        tuple(meta["type_ids"]),
        tuple(meta["business_unit_ids"]),
        audience_csv,
        audience_ndjson,
    )


def _cached_meta(backend: str, url: str) -> dict[str, Any] | None:
    if backend == "sqlite":
        database = sa.make_url(url).database
        if not database or not Path(database).exists():
            return None
    else:
        with psycopg.connect(_admin_dsn(url), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (sa.make_url(url).database,)
            ).fetchone()
        if not exists:
            return None
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT meta FROM bench_meta")).first()
    except sa.exc.DBAPIError:
        return None
    finally:
        engine.dispose()
    return json.loads(row[0]) if row else None


def _create_empty(backend: str, url: str) -> None:
    if backend == "sqlite":
        database = sa.make_url(url).database
        assert database
        drop_sqlite(Path(database))
        return
    name = sa.make_url(url).database
    with psycopg.connect(_admin_dsn(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _h(salt: int, modulo: int) -> str:
    """A deterministic pseudo-random number in [0, modulo) from the person id, in SQL."""
    multiplier = (2654435761, 2246822519, 3266489917, 668265263, 374761393, 1103515245)[salt % 6]
    return f"(((CAST(p.i AS BIGINT) * {multiplier} + {salt * 7919}) % 1000003) % {modulo})"


def _build(backend: str, url: str, scale: int, log: Any) -> dict[str, Any]:
    _create_empty(backend, url)
    db = Database(url)
    migrate(db)
    with db.write() as conn:
        bus = [0]
        for name in ("Brand B", "Brand C"):
            bus.append(int(catalog.create_business_unit(conn, {"name": name})["id"]))
        conn.execute(sa.update(t.business_units).where(t.business_units.c.id == bus[2]).values(double_opt_in=True))
        type_ids = [
            int(
                catalog.create_subscription_type(
                    conn, {"name": name, "channel": "EMAIL", "business_unit_id": bus[bu]}
                )["id"]
            )
            for name, bu, _, _ in TYPES
        ]
        account = load_account(conn)
    _load_people(db, scale, account)
    log(f"  people staged ({scale:,})")
    at = sa.bindparam("at", value=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), type_=t.UTCDateTime)
    with db.write() as conn:

        def run(sql: str) -> None:
            conn.execute(sa.text(sql).bindparams(at))

        run(
            f"""INSERT INTO addresses (address, channel, display, undeliverable, soft_bounces,
                confirmation, created_at, updated_at)
            SELECT p.address, 'EMAIL', p.address, {_h(1, 1000)} < {UNDELIVERABLE_PER_MILLE}, 0,
                CASE WHEN {_h(2, 1000)} < {PENDING_PER_MILLE} THEN 'PENDING'
                     WHEN {_h(2, 100)} < {CONFIRMED_PERCENT} THEN 'CONFIRMED' END,
                :at, :at
            FROM bench_people p ORDER BY p.address"""
        )
        log("  addresses")
        for index, (type_id, (_, _, subscribed, unsubscribed)) in enumerate(zip(type_ids, TYPES, strict=True)):
            roll = _h(10 + index, 100)
            # an erased person opted out again afterwards (an opt-in by the person would
            # have lifted the erasure, R22): where the roll says SUBSCRIBED, UNSUBSCRIBED
            opted_in = f"{roll} < {subscribed} AND {_ERASED} <> 0"
            run(
                f"""INSERT INTO subscription_statuses (address, subscription_type_id, channel, status,
                    legal_basis, source, updated_at)
                SELECT p.address, {type_id}, 'EMAIL',
                    CASE WHEN {opted_in} THEN 'SUBSCRIBED'
                         WHEN {roll} < {subscribed + unsubscribed} THEN 'UNSUBSCRIBED'
                         ELSE 'NOT_SPECIFIED' END,
                    CASE WHEN {opted_in} THEN 'CONSENT_WITH_NOTICE' END,
                    CASE WHEN {opted_in} THEN 'FORM' ELSE 'PREFERENCE_CENTER' END,
                    :at
                FROM bench_people p WHERE {roll} < {subscribed + unsubscribed + 3}
                ORDER BY p.address"""
            )
        log("  statuses")
        for index, (bu, percent) in enumerate(zip(bus, WIDE_OPT_OUT_PERCENT, strict=True)):
            run(
                f"""INSERT INTO wide_opt_outs (address, channel, business_unit_id, set_by, source, at)
                SELECT p.address, 'EMAIL', {bu},
                    CASE WHEN p.i % 4 = 0 THEN 'USER' ELSE 'CONTACT' END,
                    CASE WHEN p.i % 4 = 0 THEN 'MANUAL' ELSE 'PREFERENCE_CENTER' END, :at
                FROM bench_people p WHERE {_h(20 + index, 100)} < {percent} ORDER BY p.address"""
            )
        log("  wide opt-outs")
        run(
            """INSERT INTO contacts (id, email, email_key, first_name, last_name, company, properties,
                created_at, updated_at)
            SELECT p.i, p.address, p.address, p.first_name, p.last_name, NULL, '{}', :at, :at
            FROM bench_people p ORDER BY p.i"""
        )
        if backend == "postgresql":
            conn.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('contacts', 'id'), (SELECT max(id) FROM contacts))")
            )
        log("  contacts")
        _history(conn)
        log("  ledger history")
        erased = [
            {
                "address_hash": account.address_hash("EMAIL", person(i)[0]),
                "channel": "EMAIL",
                "at": ERASED_AT,
            }
            for i in range(ERASED_EVERY, scale + 1, ERASED_EVERY)
        ]
        db.bulk_insert(conn, t.erasures, erased)
        meta = {
            "version": VERSION,
            "scale": scale,
            "type_ids": type_ids,
            "business_unit_ids": bus,
            "built_at": dt.datetime.now(dt.UTC).isoformat(),
        }
    _analyze(db)
    with db.write() as conn:  # last: its presence marks a complete data set
        conn.execute(sa.text("CREATE TABLE bench_meta (meta TEXT NOT NULL)"))
        conn.execute(sa.text("INSERT INTO bench_meta (meta) VALUES (:m)"), {"m": json.dumps(meta)})
    db.dispose()
    return meta


def _analyze(db: Database) -> None:
    """Fresh planner statistics; on SQLite also fold the WAL into the file that is copied."""
    raw = db.engine.raw_connection()
    try:
        if db.is_sqlite:
            raw.driver_connection.execute("ANALYZE")  # type: ignore[union-attr]
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        else:
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            raw.driver_connection.execute("VACUUM ANALYZE")  # type: ignore[union-attr]
            raw.driver_connection.autocommit = False  # type: ignore[union-attr]
    finally:
        raw.close()


#: the person erased (erasures rows are written for every ERASED_EVERY-th person)
_ERASED = f"p.i % {ERASED_EVERY}"


def _history(conn: Connection) -> None:
    """The ledger Assent would have written for this state, so that `assent ledger verify`
    finds every state row explained (and the benchmark measures a clean verify): one event
    for each stored status (other than NOT_SPECIFIED) and wide opt-out, as the people's own
    acts (their preference center, forms); a hard bounce (PROVIDER) for each undeliverable
    address; the double opt-in's PENDING (a form) or a user's "mark confirmed" for each
    address with a confirmation; and every event's outbox row (R25), published, as the
    dispatcher leaves them. An erased person opted in first (that event is redacted), was
    erased (an ERASURE event), and only then got the state the tables hold.

    Ids follow the order of the people, one kind after the other: the people not erased
    first (statuses by person and type, then wide opt-outs, bounces, confirmations), then
    each erased person's whole history. Rows are stored in id order, as appending leaves
    them."""
    erased = f"{_ERASED} = 0"
    first_type = "(SELECT min(id) FROM subscription_types)"
    when = f"CASE WHEN {erased} THEN :erased_at ELSE :at END"
    # (sort key: group, then two numbers within it, then a tie-break) + the event's columns
    parts = [
        f"""SELECT CASE WHEN {erased} THEN 1 ELSE 0 END AS g, CASE WHEN {erased} THEN p.i ELSE 1 END AS k1,
                CASE WHEN {erased} THEN 2 ELSE p.i END AS k2, s.subscription_type_id AS k3,
                p.hash AS address_hash, {when} AS at, 'STATUS' AS kind, p.address AS address,
                st.business_unit_id AS business_unit_id, s.subscription_type_id AS subscription_type_id,
                'NOT_SPECIFIED' AS old_status, s.status AS new_status, s.legal_basis AS legal_basis,
                s.source AS source, 'CONTACT' AS actor_kind
            FROM subscription_statuses s
            JOIN bench_people p ON p.address = s.address
            JOIN subscription_types st ON st.id = s.subscription_type_id
            WHERE s.status <> 'NOT_SPECIFIED'""",
        f"""SELECT CASE WHEN {erased} THEN 1 ELSE 0 END, CASE WHEN {erased} THEN p.i ELSE 2 END,
                CASE WHEN {erased} THEN 3 ELSE p.i END, w.business_unit_id,
                p.hash, {when}, 'WIDE_OPT_OUT', p.address, w.business_unit_id, NULL, 'NOT_SPECIFIED', 'UNSUBSCRIBED',
                NULL, w.source, w.set_by
            FROM wide_opt_outs w JOIN bench_people p ON p.address = w.address""",
        f"""SELECT CASE WHEN {erased} THEN 1 ELSE 0 END, CASE WHEN {erased} THEN p.i ELSE 3 END,
                CASE WHEN {erased} THEN 4 ELSE p.i END, 0,
                p.hash, {when}, 'UNDELIVERABLE', p.address, NULL, NULL, 'DELIVERABLE', 'UNDELIVERABLE',
                NULL, 'BOUNCE', 'PROVIDER'
            FROM addresses a JOIN bench_people p ON p.address = a.address
            WHERE a.channel = 'EMAIL' AND a.undeliverable""",
        f"""SELECT CASE WHEN {erased} THEN 1 ELSE 0 END, CASE WHEN {erased} THEN p.i ELSE 4 END,
                CASE WHEN {erased} THEN 5 ELSE p.i END, 0,
                p.hash, {when}, 'CONFIRMATION', p.address, NULL, NULL, NULL, a.confirmation,
                NULL, CASE WHEN a.confirmation = 'PENDING' THEN 'FORM' ELSE 'MANUAL' END,
                CASE WHEN a.confirmation = 'PENDING' THEN 'CONTACT' ELSE 'USER' END
            FROM addresses a JOIN bench_people p ON p.address = a.address
            WHERE a.channel = 'EMAIL' AND a.confirmation IS NOT NULL""",
        # the erased: their opt-in before the erasure, and the erasure itself
        f"""SELECT 1, p.i, 0, 0, p.hash, :at, 'STATUS', p.address, st.business_unit_id, st.id, 'NOT_SPECIFIED',
                'SUBSCRIBED', 'CONSENT_WITH_NOTICE', 'FORM', 'CONTACT'
            FROM bench_people p JOIN subscription_types st ON st.id = {first_type}
            WHERE {erased}""",
        f"""SELECT 1, p.i, 1, 0, p.hash, :erased_at, 'ERASURE', NULL, NULL, NULL, NULL, 'ERASED', NULL, 'ERASURE',
                'SYSTEM'
            FROM bench_people p WHERE {erased}""",
    ]
    union = "\n            UNION ALL ".join(parts)
    conn.execute(
        sa.text(
            f"""INSERT INTO ledger_events (address_hash, id, at, kind, channel, address, business_unit_id,
                subscription_type_id, old_status, new_status, legal_basis, source, actor_kind, redacted)
            SELECT e.address_hash, ROW_NUMBER() OVER (ORDER BY e.g, e.k1, e.k2, e.k3), e.at, e.kind, 'EMAIL',
                e.address, e.business_unit_id, e.subscription_type_id, e.old_status, e.new_status, e.legal_basis,
                e.source, e.actor_kind, FALSE
            FROM ({union}) e
            ORDER BY e.g, e.k1, e.k2, e.k3"""
        ).bindparams(
            sa.bindparam("at", value=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), type_=t.UTCDateTime),
            sa.bindparam("erased_at", value=ERASED_AT, type_=t.UTCDateTime),
        )
    )
    conn.execute(sa.text("UPDATE ledger_counter SET last_id = (SELECT max(id) FROM ledger_events) WHERE id = 1"))
    # Chained as migration 0010 chains an older ledger (the guard is lifted for that only).
    drop_ledger_guard(conn)
    chain_existing(conn)
    create_ledger_guard(conn)
    # The erasure blanked the personal fields of the events before it (services/erasure.py):
    # exactly the UPDATE the ledger's guard lets through.
    blank = ", ".join(f"{name} = NULL" for name in t.LEDGER_PERSONAL_COLUMNS)
    conn.execute(
        sa.text(
            f"""UPDATE ledger_events SET {blank}, redacted = TRUE
            WHERE address_hash IN (SELECT address_hash FROM ledger_events WHERE kind = 'ERASURE')
            AND kind <> 'ERASURE' AND id < (
                SELECT min(x.id) FROM ledger_events x WHERE x.address_hash = ledger_events.address_hash
                AND x.kind = 'ERASURE')"""
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO outbox (event_id, address_hash, created_at, published_at)"
            " SELECT id, address_hash, at, at FROM ledger_events ORDER BY id"
        )
    )


def _people(scale: int, account: Account) -> Iterator[tuple[int, str, str, str, str]]:
    for i in range(1, scale + 1):
        address, first, last = person(i)
        yield i, address, first, last, account.address_hash("EMAIL", address)


def _load_people(db: Database, scale: int, account: Account) -> None:
    with db.write() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE bench_people (i INTEGER PRIMARY KEY, address TEXT NOT NULL,"
                " first_name TEXT NOT NULL, last_name TEXT NOT NULL, hash TEXT NOT NULL)"
            )
        )
        raw = conn.connection.driver_connection
        assert raw is not None
        if db.is_sqlite:
            raw.executemany("INSERT INTO bench_people VALUES (?, ?, ?, ?, ?)", _people(scale, account))
            return
        with raw.cursor() as cursor, cursor.copy("COPY bench_people FROM STDIN") as copy:
            for row in _people(scale, account):
                copy.write_row(row)


def _write_audience(scale: int, csv_path: Path, ndjson_path: Path) -> None:
    """The audience a sender uploads: 90 % known addresses (some with other capitalisation),
    9 % new ones, 1 % not addresses at all, in random order, with a header."""
    rng = random.Random(42)
    lines: list[str] = []
    for n in range(scale):
        roll = rng.random()
        if roll < 0.90:
            address = person(rng.randint(1, scale))[0]
            if rng.random() < 0.05:
                local, _, domain = address.partition("@")
                address = f"{local.title()}@{domain.upper() if rng.random() < 0.3 else domain}"
        elif roll < 0.99:
            address = f"new.person{n}@{DOMAINS[n % len(DOMAINS)]}"
        else:
            address = rng.choice(["not-an-address", f"missing-at{n}.example.com", f"double@@{n}.com", f"x{n}@"])
        lines.append(address)
    tmp = csv_path.with_suffix(".tmp")
    tmp.write_text("email\n" + "\n".join(lines) + "\n")
    tmp.replace(csv_path)
    tmp = ndjson_path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps({"address": line}) + "\n" for line in lines))
    tmp.replace(ndjson_path)
