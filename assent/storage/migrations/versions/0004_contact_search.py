"""Indexes for searching contacts by the start of a name, company, email, domain or phone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

`services/contact_search.py` spells these expressions exactly so (an expression index is
used only for the same expression). On PostgreSQL they are in the "C" collation, where a
prefix is a range of code points whatever the database's collation; SQLite's default
BINARY collation already is that, and its existing email_key and phone indexes serve.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_POSTGRES = {
    "ix_contacts_search_first_name": '(lower(first_name) COLLATE "C")',
    "ix_contacts_search_last_name": '(lower(last_name) COLLATE "C")',
    "ix_contacts_search_company": '(lower(company) COLLATE "C")',
    "ix_contacts_search_email_domain": "(split_part(email_key, '@', 2) COLLATE \"C\")",
    "ix_contacts_search_email_key": '(email_key COLLATE "C")',
    "ix_contacts_search_phone": '(phone COLLATE "C")',
}
_SQLITE = {
    "ix_contacts_search_first_name": "lower(first_name)",
    "ix_contacts_search_last_name": "lower(last_name)",
    "ix_contacts_search_company": "lower(company)",
    "ix_contacts_search_email_domain": "substr(email_key, instr(email_key, '@') + 1)",
}


def _indexes() -> dict[str, str]:
    return _POSTGRES if op.get_bind().dialect.name == "postgresql" else _SQLITE


def upgrade() -> None:
    for name, expression in _indexes().items():
        op.execute(f"CREATE INDEX {name} ON contacts ({expression})")


def downgrade() -> None:
    for name in _indexes():
        op.execute(f"DROP INDEX {name}")
