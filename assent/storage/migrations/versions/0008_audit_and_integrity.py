"""Audit events, the development signing key in the database, one contact per address.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

- `audit_events`: changes that are not per address (settings, the catalog, users, API and
  form keys), written by the action that makes the change, in its transaction.
- `account_settings.development_secret_key`: the signing key generated when
  ASSENT_SECRET_KEYS is unset, shared by every host on the database (it used to be a file
  beside one host's working directory).
- `contacts.email_key` becomes unique: one contact per email address, as HubSpot has it
  (imports will update the contact that has the address). Contacts that already share an
  email keep it on the oldest contact; each younger one keeps the email it had as the
  property `duplicate_email` (nothing is lost, and an operator can merge or delete them)
  and no longer holds the address itself. The address's state never belonged to a contact
  (R2), so no status, opt-out or event changes. A phone stays shareable (a family, a
  switchboard): HubSpot does not deduplicate by phone either.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_contacts = sa.table(
    "contacts",
    sa.column("id", sa.BigInteger),
    sa.column("email", sa.String),
    sa.column("email_key", sa.String),
    sa.column("properties", sa.JSON),
)


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tag", sa.String(length=60), nullable=False),
        sa.Column("subject_id", sa.String(length=100), nullable=True),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=100), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_tag_id", "audit_events", ["tag", "id"])
    with op.batch_alter_table("account_settings") as batch:
        batch.add_column(sa.Column("development_secret_key", sa.String(length=100), nullable=True))
    _set_aside_shared_emails()
    op.drop_index("ix_contacts_email_key", table_name="contacts")
    op.create_index("ix_contacts_email_key", "contacts", ["email_key"], unique=True)


def _set_aside_shared_emails() -> None:
    conn = op.get_bind()
    c = _contacts
    shared = (
        sa.select(c.c.email_key)
        .where(c.c.email_key.is_not(None))
        .group_by(c.c.email_key)
        .having(sa.func.count() > 1)
        .subquery()
    )
    rows = conn.execute(
        sa.select(c.c.id, c.c.email_key, c.c.email, c.c.properties)
        .where(c.c.email_key.in_(sa.select(shared.c.email_key)))
        .order_by(c.c.email_key, c.c.id)
    ).all()
    seen: set[str] = set()
    for row in rows:
        if row.email_key not in seen:
            seen.add(row.email_key)  # the oldest contact keeps the address
            continue
        properties: dict[str, Any] = {**(row.properties or {}), "duplicate_email": row.email}
        conn.execute(sa.update(c).where(c.c.id == row.id).values(email=None, email_key=None, properties=properties))


def downgrade() -> None:
    op.drop_index("ix_contacts_email_key", table_name="contacts")
    op.create_index("ix_contacts_email_key", "contacts", ["email_key"])
    with op.batch_alter_table("account_settings") as batch:
        batch.drop_column("development_secret_key")
    op.drop_index("ix_audit_events_tag_id", table_name="audit_events")
    op.drop_table("audit_events")
