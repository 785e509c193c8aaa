"""The ledger's hash chain, signed checkpoints, and consent receipts (issue 17).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

- ledger_events: `hash`, `prev_hash` and a keyed digest per personal column;
- ledger_counter: `last_hash` (the chain's head, kept under the counter's lock) and
  `digest_key` (the digests' key, generated here);
- ledger_checkpoints, and ledger_signing_keys with a generated Ed25519 key (used while
  ASSENT_LEDGER_SIGNING_KEY is unset);
- business_units.consent_receipts (email people a receipt of their opt-in; off).

Every existing event is chained, in id order, in chunks (services/chain.chain_existing):
memory stays flat however long the ledger. The guard triggers are dropped for that and
created again over the new columns, so that no UPDATE can touch the chain either.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

from assent.services.chain import chain_existing
from assent.services.checkpoints import generated_key_pem
from assent.storage.ledger_guard import create_ledger_guard, drop_ledger_guard
from assent.storage.tables import UTCDateTime, now

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

PERSONAL = ("address", "legal_basis_explanation", "ip", "user_agent", "notice_text")
GUARDED_BEFORE = (
    "address_hash", "id", "at", "kind", "channel", "business_unit_id", "subscription_type_id",
    "old_status", "new_status", "legal_basis", "processing_legal_basis", "source", "actor_kind",
    "actor_id", "job_id", "notice_version",
)  # fmt: skip
CHAIN = ("hash", "prev_hash", *(f"{name}_digest" for name in PERSONAL))


def upgrade() -> None:
    bind = op.get_bind()
    drop_ledger_guard(bind)
    # Plain ADD COLUMN (nullable) on both backends: no copy of a long table on SQLite.
    op.add_column("ledger_events", sa.Column("hash", sa.String(length=64), nullable=True))
    op.add_column("ledger_events", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    for name in PERSONAL:
        op.add_column("ledger_events", sa.Column(f"{name}_digest", sa.String(length=32), nullable=True))
    op.add_column("ledger_counter", sa.Column("last_hash", sa.String(length=64), nullable=True))
    op.add_column("ledger_counter", sa.Column("digest_key", sa.String(length=64), nullable=True))
    op.add_column(
        "business_units",
        sa.Column("consent_receipts", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoints")),
    )
    op.create_index(op.f("ix_ledger_checkpoints_last_event_id"), "ledger_checkpoints", ["last_event_id"], unique=False)
    op.create_table(
        "ledger_signing_keys",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("private_key_pem", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_signing_keys")),
    )
    bind.execute(sa.text("UPDATE ledger_counter SET digest_key = :key WHERE id = 1"), {"key": secrets.token_hex(32)})
    keys = sa.table(
        "ledger_signing_keys",
        sa.column("id", sa.Integer),
        sa.column("private_key_pem", sa.String),
        sa.column("created_at", UTCDateTime()),
    )
    op.bulk_insert(keys, [{"id": 1, "private_key_pem": generated_key_pem(), "created_at": now()}])
    chain_existing(bind)
    create_ledger_guard(bind, (*GUARDED_BEFORE, *CHAIN))


def downgrade() -> None:
    bind = op.get_bind()
    drop_ledger_guard(bind)
    op.drop_table("ledger_signing_keys")
    op.drop_index(op.f("ix_ledger_checkpoints_last_event_id"), table_name="ledger_checkpoints")
    op.drop_table("ledger_checkpoints")
    with op.batch_alter_table("business_units") as batch_op:
        batch_op.drop_column("consent_receipts")
    with op.batch_alter_table("ledger_counter") as batch_op:
        batch_op.drop_column("digest_key")
        batch_op.drop_column("last_hash")
    with op.batch_alter_table("ledger_events") as batch_op:
        for name in reversed(CHAIN):
            batch_op.drop_column(name)
    create_ledger_guard(bind, GUARDED_BEFORE)
