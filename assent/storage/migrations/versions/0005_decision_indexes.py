"""Indexes for decisions: flagged addresses, and statuses by (type, status) with the address.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

Decisions (services/decisions.py) read only the state that can change an answer: the
addresses that are undeliverable or pending confirmation, and the addresses with a given
status for a type. Partial indexes make the first a short scan instead of a pass over every
address; adding the address to the (type, status) index makes the second index-only. The
partial indexes' WHERE clauses are spelled as the queries spell them: SQLite uses a partial
index only for the same term.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_PARTIAL = {
    "ix_addresses_undeliverable": "undeliverable",
    "ix_addresses_pending": "confirmation = 'PENDING'",
}


def upgrade() -> None:
    for name, where in _PARTIAL.items():
        op.execute(f"CREATE INDEX {name} ON addresses (channel, address) WHERE {where}")
    op.create_index(
        "ix_subscription_statuses_subscription_type_id_status_address",
        "subscription_statuses",
        ["subscription_type_id", "status", "address"],
    )
    op.drop_index("ix_subscription_statuses_subscription_type_id_status", table_name="subscription_statuses")


def downgrade() -> None:
    op.create_index(
        "ix_subscription_statuses_subscription_type_id_status",
        "subscription_statuses",
        ["subscription_type_id", "status"],
    )
    op.drop_index("ix_subscription_statuses_subscription_type_id_status_address", table_name="subscription_statuses")
    for name in _PARTIAL:
        op.execute(f"DROP INDEX {name}")
