"""The consent notice in other languages (issue 15): `business_units.notice_translations`.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01

`{language: {"text": …}}`, the shape of a subscription type's `translations`: read whole with
the unit, never queried by its contents. NULL (every unit before this) means no translation:
each language shows the unit's own `notice_text`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("business_units") as batch:
        batch.add_column(sa.Column("notice_translations", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("business_units") as batch:
        batch.drop_column("notice_translations")
