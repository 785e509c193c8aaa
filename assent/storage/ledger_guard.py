"""Database triggers that make the ledger append-only (R24), on both backends.

UPDATE is refused unless it is an erasure's redaction: every non-personal column unchanged,
every personal column blanked, `redacted` set. DELETE (and, on PostgreSQL, TRUNCATE) is
refused outright. The application never relies on itself to keep this promise.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from assent.storage.tables import LEDGER_PERSONAL_COLUMNS, ledger_events

#: every column an UPDATE must leave as it is: all but the personal ones and `redacted` —
#: the hash chain and the personal fields' digests among them (erasure keeps those)
KEPT = tuple(c.name for c in ledger_events.columns if c.name not in (*LEDGER_PERSONAL_COLUMNS, "redacted"))

UPDATE_MESSAGE = "ledger events are append-only: only erasure may redact personal fields"
DELETE_MESSAGE = "ledger events are append-only: they are never deleted"


def create_ledger_guard(conn: Connection, kept: Sequence[str] = KEPT) -> None:
    """`kept`: the columns that exist when a migration creates the guard (default: all of today's)."""
    if conn.dialect.name == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in kept)
        kept_personal = " OR ".join(f"NEW.{c} IS NOT NULL" for c in LEDGER_PERSONAL_COLUMNS)
        conn.exec_driver_sql(
            f"""CREATE TRIGGER ledger_events_no_update BEFORE UPDATE ON ledger_events
            WHEN {changed} OR {kept_personal} OR NEW.redacted IS NOT 1
            BEGIN SELECT RAISE(ABORT, '{UPDATE_MESSAGE}'); END"""
        )
        conn.exec_driver_sql(
            f"""CREATE TRIGGER ledger_events_no_delete BEFORE DELETE ON ledger_events
            BEGIN SELECT RAISE(ABORT, '{DELETE_MESSAGE}'); END"""
        )
        return
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in kept)
    kept_personal = " OR ".join(f"NEW.{c} IS NOT NULL" for c in LEDGER_PERSONAL_COLUMNS)
    conn.exec_driver_sql(
        f"""CREATE FUNCTION ledger_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'UPDATE' THEN
            IF {changed} OR {kept_personal} OR NOT NEW.redacted THEN
              RAISE EXCEPTION '{UPDATE_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
          END IF;
          RAISE EXCEPTION '{DELETE_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
        END $$"""
    )
    conn.exec_driver_sql(
        """CREATE TRIGGER ledger_events_guard BEFORE UPDATE OR DELETE ON ledger_events
        FOR EACH ROW EXECUTE FUNCTION ledger_events_guard()"""
    )
    conn.exec_driver_sql(
        """CREATE TRIGGER ledger_events_no_truncate BEFORE TRUNCATE ON ledger_events
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_events_guard()"""
    )


def drop_ledger_guard(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS ledger_events_no_update")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS ledger_events_no_delete")
        return
    conn.exec_driver_sql("DROP TRIGGER IF EXISTS ledger_events_no_truncate ON ledger_events")
    conn.exec_driver_sql("DROP TRIGGER IF EXISTS ledger_events_guard ON ledger_events")
    conn.exec_driver_sql("DROP FUNCTION IF EXISTS ledger_events_guard()")
