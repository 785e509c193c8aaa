"""Imports: uploaded CSV files, their records in chunks, and the problems found reading them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

An import is stored whole in the database (not on one host's disk), so any worker on any
machine can run it once it is confirmed (R21).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("business_unit_id", sa.Integer, nullable=False),
        sa.Column("file_name", sa.String(300), nullable=True),
        sa.Column("delimiter", sa.String(1), nullable=False),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("mapping", sa.JSON, nullable=False),
        sa.Column("sample", sa.JSON, nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("last_line", sa.Integer, nullable=False),
        sa.Column("predicted", sa.JSON, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_by", sa.String(100), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_id", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_imports"),
    )
    op.create_index("ix_imports_created_at", "imports", ["created_at"])
    op.create_table(
        "import_chunks",
        sa.Column("import_id", sa.String(40), nullable=False),
        sa.Column("first_line", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("last_line", sa.Integer, nullable=False),
        sa.Column("records", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("import_id", "first_line", name="pk_import_chunks"),
        sa.ForeignKeyConstraint(
            ["import_id"], ["imports.id"], name="fk_import_chunks_import_id_imports", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "import_errors",
        sa.Column("import_id", sa.String(40), nullable=False),
        sa.Column("line", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("column", sa.String(200), nullable=False),
        sa.Column("value", sa.String(200), nullable=True),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("import_id", "line", "column", name="pk_import_errors"),
        sa.ForeignKeyConstraint(
            ["import_id"], ["imports.id"], name="fk_import_errors_import_id_imports", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("import_errors")
    op.drop_table("import_chunks")
    op.drop_index("ix_imports_created_at", table_name="imports")
    op.drop_table("imports")
