"""INSERT … ON CONFLICT, which SQLite and PostgreSQL spell the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


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
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    # With nothing to overwrite we still "update" one key column to itself: unlike
    # DO NOTHING, that locks an existing row until commit, which serializes writers of
    # one address (see services.changes).
    columns = list(update) or [keys[0]]
    statement = insert.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: getattr(insert.excluded, name) for name in columns},
    )
    for start in range(0, len(ordered), 2000):
        conn.execute(statement, list(ordered[start : start + 2000]))
