"""INSERT … ON CONFLICT, which SQLite and PostgreSQL spell the same way."""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.storage.db import driver_executemany, driver_fetchall, driver_rows, unnest_select


def upsert(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str] = (),
    returning: str | None = None,
) -> list[Any] | None:
    """Insert rows; where one exists, overwrite `update` columns (or leave it, but lock it).

    Rows are written in key order so that two transactions touching the same rows take
    their locks in the same order and cannot deadlock.

    `returning` (PostgreSQL only, else None is returned): that column of the rows inserted
    or updated — with nothing to update, of the rows inserted.
    """
    if not rows:
        return [] if returning and conn.dialect.name == "postgresql" else None
    ordered = sorted(rows, key=operator.itemgetter(*keys))
    # With nothing to overwrite we still "update" one key column to itself, but only
    # `WHERE false`: unlike DO NOTHING, that locks an existing row until commit, which
    # serializes writers of one address (see services.changes), and unlike a real update
    # it writes no new row version (and no index entries, no WAL for them) on PostgreSQL.
    columns = list(update) or [keys[0]]
    only_lock = not update
    if conn.dialect.name == "postgresql":
        return _upsert_unnest(conn, table, ordered, keys, columns, only_lock, returning)
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
    driver_executemany(conn, statement, values)
    return None


def _upsert_unnest(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    columns: list[str],
    only_lock: bool,
    returning: str | None,
) -> list[Any] | None:
    """PostgreSQL: one statement of fixed text whatever the number of rows, each column sent
    as one array (`INSERT … SELECT FROM unnest(…)`), so the server parses and plans it once
    (once per set of columns that hold one value throughout: those are sent as one value)."""
    names, select, params = unnest_select(conn, table, rows, keys=keys)
    quoted = ", ".join(f'"{name}"' for name in names)
    updates = ", ".join(f'"{name}" = EXCLUDED."{name}"' for name in columns)
    conflict = ", ".join(f'"{k}"' for k in keys)
    found = driver_fetchall(
        conn,
        f'INSERT INTO "{table.name}" ({quoted}) {select} '
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
        + (" WHERE false" if only_lock else "")
        + (f' RETURNING "{returning}"' if returning else ""),
        params,
    )
    return [row[0] for row in found] if returning else None
