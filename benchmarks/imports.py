"""Imports through the API (issue 9): an opt-out list and a contacts file of `rows` lines.

Upload + confirm + job done, end to end over HTTP, with the server's peak memory before and
after, and — in the same run — the fastest raw load of the same file into a plain table
(`COPY` into an unlogged table on PostgreSQL, `executemany` on SQLite) as the reference.
"""

from __future__ import annotations

import csv
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa

from benchmarks.dataset import Dataset, person
from benchmarks.server import Server


def write_opt_out_file(path: Path, rows: int, scale: int) -> None:
    """90 % new addresses, 10 % already known (from the data set), 1 % invalid."""
    with path.open("w", newline="") as out:
        out.write("email\n")
        for i in range(rows):
            if i % 100 == 99:
                out.write(f"not-an-address-{i}\n")
            elif i % 10 == 0:
                out.write(person(i % scale)[0] + "\n")
            else:
                out.write(f"imported{i}@new.example.org\n")


def write_contacts_file(path: Path, rows: int, type_ids: tuple[int, ...]) -> None:
    first, second = type_ids[0], type_ids[1]
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "first_name", "last_name", "city", f"subscription:{first}", f"subscription:{second}"])
        for i in range(rows):
            writer.writerow(
                [f"contact{i}@import.example.org", "Kim", f"Import{i}", "Malmö", "opt out", "not opted"]
            )


def _run_import(client: httpx.Client, path: Path, kind: str) -> dict[str, Any]:
    started = time.perf_counter()
    with path.open("rb") as file:
        created = client.post("/api/v1/imports", data={"kind": kind}, files={"file": (path.name, file, "text/csv")})
    created.raise_for_status()
    body = created.json()
    uploaded = time.perf_counter() - started
    confirmed = client.post(f"/api/v1/imports/{body['id']}/confirm", json={"row_count": body["row_count"]})
    confirmed.raise_for_status()
    while True:
        current = client.get(f"/api/v1/imports/{body['id']}").json()
        if current["status"] in ("DONE", "FAILED"):
            break
        if time.perf_counter() - started > 1800:
            raise RuntimeError("the import did not finish in 30 minutes")
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "upload_seconds": uploaded,
        "status": current["status"],
        "rows": body["row_count"],
        "rows_per_second": body["row_count"] / elapsed,
        "predicted": {k: body["predicted"][k] for k in ("CHANGED", "UNCHANGED", "REFUSED", "INVALID")},
        "counts": current["counts"],
    }


def raw_load_seconds(database_url: str, path: Path) -> float:
    """The fastest plain load of the same file: the floor an import is measured against."""
    url = sa.make_url(database_url)
    started = time.perf_counter()
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(str(url.database)) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_raw_import")
            conn.execute("CREATE TABLE bench_raw_import (address TEXT)")
            with path.open() as file:
                next(file)
                conn.executemany("INSERT INTO bench_raw_import VALUES (?)", ((line.rstrip("\n"),) for line in file))
            elapsed = time.perf_counter() - started
            conn.execute("DROP TABLE bench_raw_import")
        return elapsed
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_import")
        conn.execute("CREATE UNLOGGED TABLE bench_raw_import (address text)")
        copy_sql = "COPY bench_raw_import FROM STDIN (FORMAT csv, HEADER)"
        with conn.cursor() as cursor, cursor.copy(copy_sql) as copy, path.open("rb") as file:
            while block := file.read(1 << 20):
                copy.write(block)
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_raw_import")
    return elapsed


def imports(server: Server, database_url: str, key: str, data: Dataset, work: Path, rows: int) -> dict[str, Any]:
    path = work / f"opt-outs-{rows}.csv"
    if not path.exists():
        write_opt_out_file(path, rows, data.scale)
    contacts = work / f"contacts-{rows}.csv"
    if not contacts.exists():
        write_contacts_file(contacts, rows, data.type_ids)
    headers = {"Authorization": f"Bearer {key}"}
    found: dict[str, Any] = {}
    with httpx.Client(base_url=server.url, headers=headers, timeout=1800) as client:
        before = server.peak_rss_mb()
        found["opt_outs"] = _run_import(client, path, "OPT_OUTS")
        found["opt_outs"]["server_peak_rss_mb_before"] = before
        found["opt_outs"]["server_peak_rss_mb"] = server.peak_rss_mb()
        found["raw_load_seconds"] = raw_load_seconds(database_url, path)
        found["ratio_to_raw"] = found["opt_outs"]["seconds"] / found["raw_load_seconds"]
        found["opt_outs_again"] = _run_import(client, path, "OPT_OUTS")
        found["contacts"] = _run_import(client, contacts, "CONTACTS")
    return found
