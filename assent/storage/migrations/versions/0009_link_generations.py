"""Link subjects get a token generation that erasure bumps.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27

An erasure (R22) used to delete the address's link subject; linking the address again
re-created it under the same keyed hash, and the links sent before the erasure worked
again. Now the erasure keeps the row without the address (`address`, `display` NULL) and
bumps `generation`; tokens name the generation they were issued for, so old ones stay dead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("link_subjects") as batch:
        batch.add_column(sa.Column("generation", sa.Integer(), nullable=False, server_default="0"))
        batch.alter_column("address", existing_type=sa.String(length=320), nullable=True)
        batch.alter_column("display", existing_type=sa.String(length=320), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM link_subjects WHERE address IS NULL")
    with op.batch_alter_table("link_subjects") as batch:
        batch.alter_column("display", existing_type=sa.String(length=320), nullable=False)
        batch.alter_column("address", existing_type=sa.String(length=320), nullable=False)
        batch.drop_column("generation")
