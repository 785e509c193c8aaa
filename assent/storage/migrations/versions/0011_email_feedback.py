"""Email feedback from the sending providers (issue 13, SPEC R19).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27

- `addresses`: when the address became undeliverable, and its last soft bounce (time and
  the provider's diagnostic), beside the existing count.
- `subscription_types.sendgrid_group_id`: the SendGrid unsubscribe group (`asm_group_id`)
  that stands for the type; one type per group.
- `inbound_events`: every provider event that meant something, keyed by the provider's own
  id, written in the transaction of the change it made, so that a retry finds it and
  writes nothing twice. It names the address only by its keyed hash (R22).
- `inbound_tokens`: webhook tokens already accepted (Mailgun's), never accepted twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("addresses") as batch:
        batch.add_column(sa.Column("undeliverable_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_soft_bounce_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_soft_bounce_reason", sa.String(500), nullable=True))
    with op.batch_alter_table("subscription_types") as batch:
        batch.add_column(sa.Column("sendgrid_group_id", sa.Integer, nullable=True))
    op.create_index("ix_subscription_types_sendgrid_group_id", "subscription_types", ["sendgrid_group_id"], unique=True)
    op.create_table(
        "inbound_events",
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("address_hash", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("effect", sa.String(24), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "event_id", name="pk_inbound_events"),
    )
    op.create_table(
        "inbound_tokens",
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("token", sa.String(200), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "token", name="pk_inbound_tokens"),
    )
    op.create_index("ix_inbound_tokens_seen_at", "inbound_tokens", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_tokens_seen_at", table_name="inbound_tokens")
    op.drop_table("inbound_tokens")
    op.drop_table("inbound_events")
    op.drop_index("ix_subscription_types_sendgrid_group_id", table_name="subscription_types")
    with op.batch_alter_table("subscription_types") as batch:
        batch.drop_column("sendgrid_group_id")
    with op.batch_alter_table("addresses") as batch:
        batch.drop_column("last_soft_bounce_reason")
        batch.drop_column("last_soft_bounce_at")
        batch.drop_column("undeliverable_at")
