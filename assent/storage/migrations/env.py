"""Alembic environment: migrations run on the connection `assent.storage.migrate` hands in."""

from __future__ import annotations

from alembic import context

from assent.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `alembic` on the command line
    raise SystemExit("Run migrations with `assent migrate`.")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
