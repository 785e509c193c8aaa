"""The best hand-written SQL for the audience filter, on the same data in the same run.

It answers the same question for the same upload — which lines may receive type T — with
the rule for that one type written into the query by hand, through the bare driver (psycopg
or sqlite3, no SQLAlchemy). It is given what no SQL can compute cheaply for free: the
normalized keys and the keyed hashes for the erasure check are prepared before the clock
starts. The clock covers loading the upload into a temporary table, the query, and fetching
every sendable address in the upload's order. Several spellings are tried; the fastest counts.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from assent.domain.addresses import normalize_many
from assent.domain.model import Channel
from assent.services.state import load_account
from assent.storage.db import Database

# The rule for an email type in business unit 0 with data privacy mode and double opt-in
# off, spelled out by hand: R11's UNSUBSCRIBED, UNSUBSCRIBED_FROM_ALL, UNDELIVERABLE, ERASED.
_NOT_EXISTS = """
SELECT i.display FROM input i
WHERE NOT EXISTS (SELECT 1 FROM subscription_statuses s
                  WHERE s.address = i.key AND s.subscription_type_id = {type_id} AND s.status = 'UNSUBSCRIBED')
  AND NOT EXISTS (SELECT 1 FROM wide_opt_outs w
                  WHERE w.address = i.key AND w.channel = 'EMAIL' AND w.business_unit_id = 0)
  AND NOT EXISTS (SELECT 1 FROM addresses a WHERE a.address = i.key AND a.channel = 'EMAIL' AND a.undeliverable)
  AND NOT EXISTS (SELECT 1 FROM erasures e WHERE e.address_hash = i.hash AND e.channel = 'EMAIL')
ORDER BY i.ord"""

_ANTI_JOIN = """
WITH s AS {materialized} (SELECT address FROM subscription_statuses
                          WHERE subscription_type_id = {type_id} AND status = 'UNSUBSCRIBED'),
     w AS {materialized} (SELECT address FROM wide_opt_outs WHERE channel = 'EMAIL' AND business_unit_id = 0),
     a AS {materialized} (SELECT address FROM addresses WHERE channel = 'EMAIL' AND undeliverable),
     e AS {materialized} (SELECT address_hash FROM erasures WHERE channel = 'EMAIL')
SELECT i.display FROM input i
LEFT JOIN s ON s.address = i.key LEFT JOIN w ON w.address = i.key
LEFT JOIN a ON a.address = i.key LEFT JOIN e ON e.address_hash = i.hash
WHERE s.address IS NULL AND w.address IS NULL AND a.address IS NULL AND e.address_hash IS NULL
ORDER BY i.ord"""


@dataclass(frozen=True)
class Reference:
    seconds: float  # the best spelling's median
    spelling: str
    rows: int
    all_spellings: dict[str, float]


def prepare(database_url: str, upload: Path) -> list[tuple[int, str, str, str]]:
    """(order, key, hash, display) for every valid address of the upload, before the clock."""
    lines = [line for line in upload.read_text().splitlines()[1:] if line]
    db = Database(database_url)
    with db.read() as conn:
        account = load_account(conn)
    db.dispose()
    rows = []
    for start in range(0, len(lines), 50_000):
        keys, displays = normalize_many(Channel.EMAIL, lines[start : start + 50_000])
        for offset, (key, display) in enumerate(zip(keys, displays, strict=True)):
            if key is not None:
                rows.append((start + offset, key, account.address_hash(Channel.EMAIL, key), display))
    return rows


def measure(database_url: str, rows: list[tuple[int, str, str, str]], type_id: int, runs: int) -> Reference:
    url = sa.make_url(database_url)
    spellings: dict[str, Callable[[], int]]
    if url.get_backend_name() == "sqlite":
        assert url.database
        spellings = {
            "NOT EXISTS (index probes)": lambda: _sqlite(url.database or "", rows, _NOT_EXISTS, type_id),
            "anti-join on materialized sets": lambda: _sqlite(
                url.database or "", rows, _ANTI_JOIN.replace("{materialized}", "MATERIALIZED"), type_id
            ),
        }
    else:
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        payload = "".join(f"{o}\t{k}\t{h}\t{d}\n" for o, k, h, d in rows).encode()
        spellings = {
            "NOT EXISTS (hash anti-joins)": lambda: _postgres(dsn, payload, _NOT_EXISTS, type_id),
            "LEFT JOIN … IS NULL": lambda: _postgres(
                dsn, payload, _ANTI_JOIN.replace("{materialized}", "NOT MATERIALIZED"), type_id
            ),
        }
    medians: dict[str, float] = {}
    counts: dict[str, int] = {}
    for name, run in spellings.items():
        times = []
        for _ in range(runs + 1):  # the first run warms the caches and is not counted
            started = time.perf_counter()
            counts[name] = run()
            times.append(time.perf_counter() - started)
        medians[name] = statistics.median(times[1:])
    best = min(medians, key=medians.__getitem__)
    assert len(set(counts.values())) == 1, f"the spellings disagree: {counts}"
    return Reference(medians[best], best, counts[best], medians)


def _sqlite(path: str, rows: list[tuple[int, str, str, str]], query: str, type_id: int) -> int:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA mmap_size = 4000000000")
        conn.execute("BEGIN")
        conn.execute("CREATE TEMP TABLE input (ord INTEGER PRIMARY KEY, key TEXT, hash TEXT, display TEXT)")
        conn.executemany("INSERT INTO input VALUES (?, ?, ?, ?)", rows)
        found = conn.execute(query.format(type_id=type_id)).fetchall()
        conn.execute("ROLLBACK")
        return len(found)
    finally:
        conn.close()


def _postgres(dsn: str, payload: bytes, query: str, type_id: int) -> int:
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TEMP TABLE input (ord integer, key text, hash text, display text) ON COMMIT DROP")
        with conn.cursor() as cursor, cursor.copy("COPY input FROM STDIN") as copy:
            copy.write(payload)
        conn.execute("ANALYZE input")
        found: list[Any] = conn.execute(query.format(type_id=type_id)).fetchall()
        conn.rollback()
        return len(found)
