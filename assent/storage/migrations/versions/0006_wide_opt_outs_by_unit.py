"""An index of wide opt-outs by (channel, business unit), with the address.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

Decisions over many addresses (services/decisions.py) read every wide opt-out of one
channel and business unit; the primary key leads with the address, so without this that is
a pass over the whole table.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_wide_opt_outs_channel_business_unit_id_address",
        "wide_opt_outs",
        ["channel", "business_unit_id", "address"],
    )


def downgrade() -> None:
    op.drop_index("ix_wide_opt_outs_channel_business_unit_id_address", table_name="wide_opt_outs")
