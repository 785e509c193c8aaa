"""Apply migrations. `assent serve`, `assent migrate` and the tests all come through here."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from assent.storage.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.render_as_string(hide_password=False))
    return config


def migrate(db: Database) -> None:
    config = alembic_config(db)
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection if db.is_sqlite else None
        if raw is not None:
            # SQLite alters a table by copying it (batch mode); dropping the old copy of a
            # parent table would trip its children's foreign keys. SQLite's own procedure:
            # foreign keys off outside the transaction, checked before commit, on again.
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            if raw is not None:
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                if broken is not None:
                    raise RuntimeError(f"a migration left a broken foreign key: {tuple(broken)}")
            conn.commit()
        finally:
            if raw is not None:
                conn.rollback()
                raw.execute("PRAGMA foreign_keys=ON")
