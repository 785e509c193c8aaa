"""INSERT … ON CONFLICT, which SQLite and PostgreSQL spell the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.storage.db import driver_rows


def upsert(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str] = (),
) -> None:
    """Insert rows; where one exists, overwrite `update` columns (or leave it, but lock it).

    Rows are written in key order so that two transactions touching the same rows take
    their locks in the same order and cannot deadlock.
    """
    if not rows:
        return
    ordered = sorted(rows, key=lambda row: tuple(row[k] for k in keys))
    # With nothing to overwrite we still "update" one key column to itself: unlike
    # DO NOTHING, that locks an existing row until commit, which serializes writers of
    # one address (see services.changes).
    columns = list(update) or [keys[0]]
    if conn.dialect.name == "postgresql":
        _upsert_unnest(conn, table, ordered, keys, columns)
        return
    # SQLite: the driver's executemany of one statement text; it runs in process, so a
    # row per call costs microseconds (SQLAlchemy's per-row parameter handling, more).
    # A write transaction holds SQLite's one write lock from BEGIN IMMEDIATE: there is no row
    # lock to take, and "updating" a key to itself would rewrite every existing row's page.
    names, values = driver_rows(conn, table, ordered)
    quoted = ", ".join(f'"{name}"' for name in names)
    updates = ", ".join(f'"{name}" = excluded."{name}"' for name in columns)
    conflict = ", ".join(f'"{k}"' for k in keys)
    action = f"DO UPDATE SET {updates}" if update else "DO NOTHING"
    statement = (
        f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join("?" for _ in names)}) '
        f"ON CONFLICT ({conflict}) {action}"
    )
    conn.exec_driver_sql(statement, values)


def _upsert_unnest(
    conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str], columns: list[str]
) -> None:
    """PostgreSQL: one statement of fixed text whatever the number of rows, each column sent
    as one array (`INSERT … SELECT FROM unnest(…)`), so the server parses and plans it once."""
    names, values = driver_rows(conn, table, rows)
    columns_of_values = list(zip(*values, strict=True))
    params = {f"c{index}": list(column) for index, column in enumerate(columns_of_values)}
    selects = [f"%(c{index})s::{table.c[name].type.compile(conn.dialect)}[]" for index, name in enumerate(names)]
    quoted = ", ".join(f'"{name}"' for name in names)
    updates = ", ".join(f'"{name}" = EXCLUDED."{name}"' for name in columns)
    conflict = ", ".join(f'"{k}"' for k in keys)
    conn.exec_driver_sql(
        f'INSERT INTO "{table.name}" ({quoted}) SELECT * FROM unnest({", ".join(selects)}) '
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}",
        params,
    )
