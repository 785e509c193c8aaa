"""The plan past one primary (issue 11, point 5): every statement fits the Citus layout.

A representative workload runs through the app on PostgreSQL — status changes one and many,
wide opt-outs, undeliverable, decisions one and many, the audience filter (both its lookup
and its preload), history, the feed, a bulk update, a contacts import and a workflow run by
a real `Worker`, links, exports and an erasure. Every statement sent to PostgreSQL is
captured with its parameters (and every COPY), planned by PostgreSQL, and checked against
`assent/storage/distribution.py` (see `tests/scale/distribution_check.py`; ASSENT_DISTRIBUTION_REPORT=1 with -s prints every
checked statement and what was found in it): writes on a
distributed table name its distribution column, joins between distributed tables are
co-located. What Citus runs but at a cost (a read of every shard, a coordinator table
joined with a shard) must be named in ALLOWED below with the reason; anything else fails.
"""

from __future__ import annotations

import os
import re
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assent.jobs.worker import Worker
from assent.services.audiences import PRELOAD_MIN_LINES
from assent.storage import tables as t
from assent.storage.db import Database
from assent.storage.distribution import DISTRIBUTED, citus_ddl, kind_of, unclassified
from tests.conftest import Catalog
from tests.jobs.helpers import EXPLAINED, start
from tests.scale.distribution_check import Captured, Violation, analyze_plan, analyze_text, touches_distributed

pytestmark = pytest.mark.postgres_only


@dataclass(frozen=True)
class Allowed:
    name: str
    kinds: frozenset[str]
    origin: str  # the function of assent that sent the statement, as "module:function"
    why: str


def allowed(name: str, kinds: Sequence[str], origin: str, why: str) -> Allowed:
    return Allowed(name, frozenset(kinds), origin, why)


#: Statements Citus runs, at a known cost, by the function that sends them. Each entry must
#: still be needed by the workload (a stale entry fails the test too).
ALLOWED = [
    allowed(
        "decision lookup by key array",
        ["multi-shard-read", "recurring-outer-join"],
        "assent.services.decisions:_lookup",
        "batch decisions and short audience streams send their keys as one array and LEFT JOIN the state "
        "to it. Co-located (each shard table's address equals the same key), but not pinned: every shard "
        "gets the array, and Citus (>= 11.2) plans a LEFT JOIN from a function by pulling the inner side's "
        "rows to the coordinator. SCALING.md: the inner-join form a cluster needs",
    ),
    allowed(
        "audience filter preload",
        ["multi-shard-read"],
        "assent.services.decisions:preload",
        "a long audience stream reads one type's opt-outs (and the channel's bounces, pending "
        "confirmations) once: a parallel read of every shard, by design",
    ),
    allowed(
        "events feed",
        ["multi-shard-read"],
        "assent.services.events:feed_page",
        "the feed reads in id order across addresses: every shard returns its next ids and the "
        "coordinator merges them (SCALING.md: how the order is kept)",
    ),
    allowed(
        "suppression and history exports",
        ["multi-shard-read"],
        "assent.services.exports:(suppression_rows|history_rows|_stream)",
        "exports read every address's suppressions or the whole ledger: a parallel read of every shard",
    ),
    allowed(
        "bulk job or search by subscription status",
        ["local-distributed-join", "multi-shard-read"],
        "assent.jobs.selection:_insert_search",
        "contacts live on the coordinator and name their address by email_key / phone; selecting the "
        "contacts with a status joins them with subscription_statuses of one type: Citus reads that type's "
        "rows on every shard and joins on the coordinator (a local-distributed join)",
    ),
]


def _allowlisted(stmt: Captured, violation: Violation) -> Allowed | None:
    for entry in ALLOWED:
        if violation.kind in entry.kinds and re.fullmatch(entry.origin, stmt.origin):
            return entry
    return None


def _origin() -> str:
    """The innermost function of assent (storage helpers aside) on the stack: who sent it."""
    for frame in reversed(traceback.extract_stack()):
        path = frame.filename.replace("\\", "/")
        if "/assent/" in path and "/assent/storage/" not in path and "/services/ledger.py" not in path:
            module = path[path.rindex("/assent/") + 1 : -3].replace("/", ".")
            return f"{module}:{frame.name}"
    return "?"


@pytest.fixture
def captured(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Captured]]:
    statements: list[Captured] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        statements.append(Captured(statement, parameters, many, origin=_origin()))

    for engine in db.engines:
        sa.event.listen(engine, "before_cursor_execute", before)
    bulk_insert = db.bulk_insert

    def copying(conn: Any, table: sa.Table, rows: Sequence[Any]) -> None:
        if rows:
            names = tuple(rows[0].keys())
            values = [tuple(row[n] for n in names) for row in rows]
            statements.append(
                Captured(
                    f"COPY {table.name}",
                    None,
                    origin=_origin(),
                    copy_table=table.name,
                    copy_columns=names,
                    copy_rows=values,
                )
            )
        bulk_insert(conn, table, rows)

    monkeypatch.setattr(db, "bulk_insert", copying)
    yield statements
    for engine in db.engines:
        sa.event.remove(engine, "before_cursor_execute", before)


def check(db: Database, statements: list[Captured]) -> tuple[list[str], Counter[str], int]:
    """(unlisted violations, how often each allowlist entry was used, statements checked)."""
    dsn = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    failures: list[str] = []
    used: Counter[str] = Counter()
    seen: set[str] = set()
    checked = 0
    with psycopg.connect(dsn) as conn:
        for stmt in statements:
            if not touches_distributed(stmt.sql) and stmt.copy_table is None:
                continue
            identity = stmt.sql + repr(stmt.params)
            if identity in seen:
                continue
            seen.add(identity)
            checked += 1
            violations = analyze_text(stmt)
            if stmt.copy_table is None and re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", stmt.sql, re.I):
                params = stmt.params[0] if stmt.many else stmt.params
                try:
                    [[explained]] = conn.execute(
                        "EXPLAIN (FORMAT JSON, VERBOSE) " + stmt.sql, params or None
                    ).fetchall()  # type: ignore[arg-type]
                finally:
                    conn.rollback()
                violations += analyze_plan(explained[0]["Plan"])
            if os.environ.get("ASSENT_DISTRIBUTION_REPORT"):
                print("CHECKED", stmt.origin, [str(v) for v in violations], " ".join(stmt.sql.split())[:120])
            for violation in violations:
                entry = _allowlisted(stmt, violation)
                if entry is None:
                    failures.append(
                        f"{violation} (from {stmt.origin})\n    {stmt.sql[:600]}\n    {repr(stmt.params)[:300]}"
                    )
                else:
                    used[entry.name] += 1
    return failures, used, checked


def run_workload(client: TestClient, db: Database, make: Catalog, headers: dict[str, str]) -> None:
    def ok(response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json() if response.headers.get("content-type", "").startswith("application/json") else response

    news, offers = make.type("Newsletter"), make.type("Offers")
    sub = "/api/v1/subscribers/EMAIL"
    ok(
        client.post(
            f"{sub}/alice@example.com/statuses",
            json={"changes": [{"subscription_type_id": news, "status": "UNSUBSCRIBED"}]},
            headers=headers,
        )
    )
    ok(
        client.post(
            f"{sub}/alice@example.com/statuses",
            json={"changes": [{"subscription_type_id": news, "status": "SUBSCRIBED"}], **EXPLAINED},
            headers=headers,
        )
    )
    batch = {
        "channel": "EMAIL",
        "items": [
            {"address": f"b{n}@example.com", "changes": [{"subscription_type_id": offers, "status": "UNSUBSCRIBED"}]}
            for n in range(5)
        ],
    }
    ok(client.post("/api/v1/statuses/batch", json=batch, headers=headers))
    ok(client.put(f"{sub}/carol@example.com/unsubscribe-all", headers=headers))
    ok(client.request("DELETE", f"{sub}/carol@example.com/unsubscribe-all", json=EXPLAINED, headers=headers))
    ok(client.put(f"{sub}/carol@example.com/unsubscribe-all", headers=headers))
    ok(
        client.put(
            f"{sub}/dave@example.com/undeliverable", json={"legal_basis_explanation": "hard bounce"}, headers=headers
        )
    )
    ok(
        client.get(
            "/api/v1/decisions", params={"address": "alice@example.com", "subscription_type_id": news}, headers=headers
        )
    )
    ok(
        client.post(
            "/api/v1/decisions/batch",
            json={
                "subscription_type_id": offers,
                "addresses": ["b1@example.com", "x@example.com", "carol@example.com"],
            },
            headers=headers,
        )
    )
    short = "\n".join(["email", "alice@example.com", "b2@example.com", "dave@example.com"]) + "\n"
    lines = "email\n" + "".join(f"p{n}@example.com\n" for n in range(PRELOAD_MIN_LINES))
    for body in (short, lines):
        filtered = client.post(
            "/api/v1/audiences/filter",
            params={"subscription_type_id": offers},
            content=body.encode(),
            headers={**headers, "Content-Type": "text/csv"},
        )
        assert filtered.status_code == 200, filtered.text
    ok(client.get(f"{sub}/alice@example.com/history", headers=headers))
    ok(client.get(f"{sub}/alice@example.com", headers=headers))
    ok(client.get("/api/v1/events", params={"after": "0", "limit": 50}, headers=headers))
    ok(
        client.post(
            "/api/v1/links", json={"address": "alice@example.com", "subscription_type_id": news}, headers=headers
        )
    )
    job = ok(
        start(
            client,
            headers,
            addresses=[f"j{n}@example.com" for n in range(7)],
            status="UNSUBSCRIBED",
            subscription_type_ids=[news, offers],
        ),
        202,
    )
    contact = ok(
        client.post("/api/v1/contacts", json={"email": "erin@example.com", "first_name": "Erin"}, headers=headers), 201
    )
    csv = f"email,first_name,subscription:{news}\nfrank@example.com,Frank,opt out\nerin@example.com,Erin,opt out\n"
    created = ok(
        client.post(
            "/api/v1/imports",
            data={"kind": "CONTACTS"},
            files={"file": ("c.csv", csv.encode(), "text/csv")},
            headers=headers,
        ),
        201,
    )
    ok(
        client.post(
            f"/api/v1/imports/{created['id']}/confirm", json={"row_count": created["row_count"]}, headers=headers
        ),
        202,
    )
    flow = ok(
        client.post(
            "/api/v1/workflows",
            json={
                "name": "W",
                "trigger": {"type": "MANUAL"},
                "actions": [
                    {
                        "type": "SET_SUBSCRIPTION_STATUS",
                        "channel": "EMAIL",
                        "subscription_type_id": offers,
                        "status": "UNSUBSCRIBED",
                    }
                ],
            },
            headers=headers,
        ),
        201,
    )
    ok(
        client.post(f"/api/v1/workflows/{flow['id']}/enroll", json={"contact_ids": [contact["id"]]}, headers=headers),
        202,
    )
    Worker(db, chunk_size=3).run_until_idle()
    assert ok(client.get(f"/api/v1/jobs/{job['id']}", headers=headers))["status"] == "SUCCEEDED"
    ok(
        client.post(
            "/api/v1/bulk-updates",
            json={
                "channel": "EMAIL",
                "contact_search": {"subscription_type_id": news, "status": "UNSUBSCRIBED"},
                "status": "UNSUBSCRIBED",
                "subscription_type_ids": [offers],
            },
            headers=headers,
        ),
        202,
    )
    Worker(db, chunk_size=3).run_until_idle()
    for export in ("suppressions", "history"):
        assert client.get(f"/api/v1/exports/{export}", params={"channel": "EMAIL"}, headers=headers).status_code == 200
    ok(client.post("/api/v1/erasures", json={"channel": "EMAIL", "address": "alice@example.com"}, headers=headers))
    ok(client.post("/api/v1/erasures", json={"contact_id": contact["id"]}, headers=headers))
    # what the workload did is what a user would see
    assert (
        ok(
            client.get(
                "/api/v1/decisions",
                params={"address": "alice@example.com", "subscription_type_id": news},
                headers=headers,
            )
        )["allowed"]
        is False
    )


@pytest.mark.parametrize("backend", ["postgresql"])
def test_every_statement_of_the_workload_fits_the_citus_layout(
    client: TestClient, db: Database, make: Catalog, admin_headers: dict[str, str], captured: list[Captured]
) -> None:
    run_workload(client, db, make, admin_headers)
    failures, used, checked = check(db, captured)
    assert checked > 50, checked
    assert not failures, f"{len(failures)} statements do not fit the Citus layout:\n" + "\n".join(failures)
    unused = [entry.name for entry in ALLOWED if not used[entry.name]]
    assert not unused, f"allowlist entries no statement needs any more: {unused}"
    # Every statement that writes a distributed table was seen and passed: the write path is covered.
    written = {c.copy_table for c in captured if c.copy_table} | {
        m.group(1) for c in captured if (m := re.match(r'\s*(?:INSERT INTO|UPDATE|DELETE FROM) "?(\w+)"?', c.sql))
    }
    assert set(DISTRIBUTED) - {"inbound_events"} <= written, set(DISTRIBUTED) - written


def test_every_table_is_placed_and_the_layout_is_valid_for_citus() -> None:
    assert unclassified() == []
    for name, spec in DISTRIBUTED.items():
        table = t.metadata.tables[name]
        # Citus: every unique constraint of a distributed table contains its distribution column.
        assert spec.column in table.primary_key.columns, name
        assert not table.c[spec.column].nullable, name
        for index in table.indexes:
            if index.unique and spec.column not in index.columns:
                # SCALING.md: on Citus this index becomes a plain one (the counter keeps ids unique)
                assert (name, index.name) == ("ledger_events", "ix_ledger_events_id"), (name, index.name)
        for reference in table.foreign_keys:
            assert kind_of(reference.column.table.name) == "reference", (name, reference.target_fullname)
    assert any("colocate_with => 'addresses'" in s for s in citus_ddl())
    # docs/SCALING.md's table is written from the map: one row per table, the same placement.
    doc = (Path(__file__).resolve().parents[2] / "docs" / "SCALING.md").read_text()
    found = re.findall(r"^\| `(\w+)` \| (\w+) \| ([^|]*)\|", doc, re.MULTILINE)
    rows = {name: (kind, column.strip()) for name, kind, column in found}
    assert set(rows) == set(t.metadata.tables)
    for name, (kind, column) in rows.items():
        assert kind == kind_of(name), name
        if kind == "distributed":
            assert column.startswith(f"`{DISTRIBUTED[name].column}` ({DISTRIBUTED[name].group})"), name


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_check_catches_writes_and_joins_that_do_not_fit(db: Database) -> None:
    """The checker itself can fail: statements Citus would refuse or run on every shard."""
    dsn = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    bad = {
        "DELETE FROM wide_opt_outs WHERE business_unit_id = %(bu)s": ({"bu": 1}, "dml-without-distribution-column"),
        "UPDATE addresses SET undeliverable = true WHERE channel = 'EMAIL'": (None, "dml-without-distribution-column"),
        "SELECT s.status FROM subscription_statuses s JOIN ledger_events e ON e.address = s.address"
        " WHERE s.address = 'a' AND e.address_hash = 'h'": (None, "non-co-located-join"),
        "SELECT 1 FROM wide_opt_outs w JOIN jobs j ON j.id = w.source WHERE w.address = ANY(%(k)s)": (
            {"k": ["a", "b"]},
            "local-distributed-join",
        ),
    }
    with psycopg.connect(dsn) as conn:
        for sql, (params, kind) in bad.items():
            [[plan]] = conn.execute("EXPLAIN (FORMAT JSON, VERBOSE) " + sql, params).fetchall()  # type: ignore[arg-type]
            assert kind in {v.kind for v in analyze_plan(plan[0]["Plan"])}, sql
        fine = "DELETE FROM wide_opt_outs WHERE channel = 'EMAIL' AND business_unit_id = 1 AND address = ANY(%(k)s)"
        [[plan]] = conn.execute("EXPLAIN (FORMAT JSON, VERBOSE) " + fine, {"k": ["a"]}).fetchall()  # type: ignore[arg-type]
        assert analyze_plan(plan[0]["Plan"]) == []
    upsert = Captured(
        'INSERT INTO "addresses" ("address", "channel") SELECT * FROM unnest(%(c0)s::VARCHAR[], %(c1)s::VARCHAR[]) '
        'ON CONFLICT ("address", "channel") DO UPDATE SET "address" = EXCLUDED."address"',
        {"c0": ["a"], "c1": ["EMAIL"]},
    )
    assert analyze_text(upsert) == []
    moved = Captured(upsert.sql.replace('EXCLUDED."address"', "'b'"), upsert.params)
    assert [v.kind for v in analyze_text(moved)] == ["assigns-distribution-column"]
    nameless = Captured(
        'INSERT INTO "addresses" ("address", "channel") VALUES (%(address)s, %(channel)s)',
        {"address": None, "channel": "EMAIL"},
    )
    assert [v.kind for v in analyze_text(nameless)] == ["dml-without-distribution-column"]
