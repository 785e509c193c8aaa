"""SMS and WhatsApp keywords (issue 12): inbound messages, the review queue, per-unit
keywords, replies and quiet hours, and the account's revocation policy.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27

One table, `sms_messages`, is both the dedupe record of Twilio's webhooks (a retry finds its
row and gets the stored reply) and the review queue (`review` = PENDING): a queued message is
an inbound message with a state, and keeping it in one row means confirming it can never
disagree with what was received. Keyed by the address hash first, like the ledger, so it
shards by address and erasure deletes it by that hash.

A unit's keywords, replies and quiet hours are JSON columns on `business_units`: read whole
with the unit, never queried by their contents, and a handful of values each.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account_settings") as batch:
        batch.add_column(
            sa.Column("sms_revocation_policy", sa.String(length=10), server_default="OPT_OUT", nullable=False)
        )
    with op.batch_alter_table("business_units") as batch:
        batch.add_column(sa.Column("sms_keywords", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("sms_replies", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("quiet_hours", sa.JSON(), nullable=True))
    op.create_table(
        "sms_messages",
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("business_unit_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.String(length=1600), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=True),
        sa.Column("keyword", sa.String(length=60), nullable=True),
        sa.Column("error_code", sa.String(length=10), nullable=True),
        sa.Column("reply", sa.String(length=1600), nullable=True),
        sa.Column("review", sa.String(length=10), nullable=True),
        sa.Column("review_note", sa.String(length=2000), nullable=True),
        sa.Column("reviewed_by", sa.String(length=100), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address_hash", "message_sid", "event", name=op.f("pk_sms_messages")),
    )
    op.create_index(op.f("ix_sms_messages_review_received_at"), "sms_messages", ["review", "received_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sms_messages_review_received_at"), table_name="sms_messages")
    op.drop_table("sms_messages")
    with op.batch_alter_table("business_units") as batch:
        batch.drop_column("quiet_hours")
        batch.drop_column("sms_replies")
        batch.drop_column("sms_keywords")
    with op.batch_alter_table("account_settings") as batch:
        batch.drop_column("sms_revocation_policy")
