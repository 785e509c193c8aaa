"""The migrated schema is what `storage/tables.py` says, on both backends (issue 7, point 10).

Two checks. Alembic's autogenerate compare (the same one `alembic revision --autogenerate`
runs) covers tables, columns, types, nullability, keys, unique constraints and indexes on
plain columns. Reflection cannot read expression indexes on SQLite, nor an index's
collation on PostgreSQL, so every index is also compared by its definition: what the
database says it built against what `tables.py` would build on that dialect.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.schema import CreateIndex

from assent.services.state import load_account
from assent.storage import tables as t
from assent.storage.db import Database
from tests.helpers import count_rows


def _plain(index: sa.Index) -> bool:
    return all(isinstance(e, sa.Column) for e in index.expressions)


def _include(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    # Expression indexes are compared by definition below (reflection cannot see them whole).
    if kind == "index":
        index = compare_to if reflected else obj
        if index is not None and not _plain(index):
            return False
        if reflected and obj is not None and any(c is None for c in obj.expressions if not isinstance(c, sa.Column)):
            return False
    return True


def _normalized(ddl: str) -> str:
    """An index definition without what each database adds when it reports one."""
    text = ddl.lower().replace('"', "").replace("public.", "").replace(" using btree", "")
    text = re.sub(r"::\s*[a-z ]+(\(\d+\))?", "", text)  # PostgreSQL's casts (::text)
    return text.replace("(", "").replace(")", "").replace(" ", "")


def _built_indexes(conn: sa.Connection) -> dict[str, str]:
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    else:
        rows = conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
    return {name: _normalized(sql) for name, sql in rows}


def _declared_indexes(dialect: sa.Dialect) -> dict[str, str]:
    return {
        str(index.name): _normalized(str(CreateIndex(index).compile(dialect=dialect)))
        for table in t.metadata.sorted_tables
        for index in table.indexes
        if t.builds_on(index, dialect.name)
    }


def test_the_migrations_build_what_tables_py_declares(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _include, "render_as_batch": True}
        )
        with warnings.catch_warnings():
            # SQLite cannot reflect expression indexes; the check below covers them.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
            drift = compare_metadata(context, t.metadata)
        assert drift == []
        assert _built_indexes(conn) == _declared_indexes(conn.dialect)


def test_it_would_notice_an_index_only_a_migration_made(db: Database) -> None:
    with db.write() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_contacts_stray ON contacts (lower(company))")
    with db.engine.connect() as conn:
        assert "ix_contacts_stray" in set(_built_indexes(conn)) - set(_declared_indexes(conn.dialect))


def test_an_email_address_belongs_to_one_contact_and_a_phone_may_be_shared(db: Database) -> None:
    now = t.now()
    row = {"email": "Pat@example.com", "email_key": "pat@example.com", "properties": {}}
    with db.write() as conn:
        conn.execute(t.contacts.insert().values(**row, created_at=now, updated_at=now))
    with pytest.raises(sa.exc.IntegrityError), db.write() as conn:
        conn.execute(t.contacts.insert().values(**row, created_at=now, updated_at=now))
    phone = {"phone": "+46701234567", "properties": {}}
    with db.write() as conn:
        conn.execute(t.contacts.insert().values(**phone, created_at=now, updated_at=now))
        conn.execute(t.contacts.insert().values(**phone, created_at=now, updated_at=now))
    assert count_rows(db, "contacts") == 3
    with db.read() as conn:
        load_account(conn)  # the settings row survived the batch alteration


def test_the_migration_keeps_a_shared_address_on_the_oldest_contact(db: Database) -> None:
    from alembic import command

    from assent.storage.migrate import alembic_config, migrate

    config = alembic_config(db)
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
        conn.commit()
    now = t.now()
    rows = [
        (1, "Pat@example.com", "pat@example.com", "+46701234567"),
        (2, "PAT@example.com", "pat@example.com", None),
        (3, None, None, "+46701234567"),
        (5, "pat@example.com", "pat@example.com", None),
        (4, "kim@example.com", "kim@example.com", None),
    ]
    with db.write() as conn:
        for id_, email, key, phone in rows:
            values = {"email": email, "email_key": key, "phone": phone, "properties": {}}
            conn.execute(t.contacts.insert().values(id=id_, **values, created_at=now, updated_at=now))
    migrate(db)
    with db.read() as conn:
        found = {
            r.id: (r.email, r.email_key, r.phone, r.properties)
            for r in conn.execute(sa.select(t.contacts).order_by(t.contacts.c.id))
        }
    assert found == {
        1: ("Pat@example.com", "pat@example.com", "+46701234567", {}),
        2: (None, None, None, {"duplicate_email": "PAT@example.com"}),
        3: (None, None, "+46701234567", {}),
        4: ("kim@example.com", "kim@example.com", None, {}),
        5: (None, None, None, {"duplicate_email": "pat@example.com"}),
    }
