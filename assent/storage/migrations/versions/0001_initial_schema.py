"""Initial schema: settings, business units, types, per-address state, the ledger, jobs.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

The ledger guard triggers are created here. SQLite's batch mode copies a table to alter it
and drops its triggers on the way: a later migration that alters ledger_events must call
`create_ledger_guard()` again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from assent.storage.ledger_guard import create_ledger_guard, drop_ledger_guard

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('data_privacy_mode', sa.Boolean(), nullable=False),
    sa.Column('consent_required_to_send', sa.Boolean(), nullable=False),
    sa.Column('double_opt_in', sa.Boolean(), nullable=False),
    sa.Column('default_phone_region', sa.String(length=2), nullable=True),
    sa.Column('sms_numbers', sa.JSON(), nullable=False),
    sa.Column('hash_key', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_settings'))
    )
    op.create_table('addresses',
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('display', sa.String(length=320), nullable=False),
    sa.Column('undeliverable', sa.Boolean(), nullable=False),
    sa.Column('undeliverable_reason', sa.String(length=500), nullable=True),
    sa.Column('soft_bounces', sa.Integer(), nullable=False),
    sa.Column('confirmation', sa.String(length=10), nullable=True),
    sa.Column('confirmation_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('processing_legal_basis', sa.String(length=40), nullable=True),
    sa.Column('processing_legal_basis_explanation', sa.String(length=4000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('address', 'channel', name=op.f('pk_addresses'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys'))
    )
    op.create_table('business_units',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('company_name', sa.String(length=200), nullable=True),
    sa.Column('postal_address', sa.String(length=500), nullable=True),
    sa.Column('logo_url', sa.String(length=2000), nullable=True),
    sa.Column('primary_color', sa.String(length=7), nullable=True),
    sa.Column('accent_color', sa.String(length=7), nullable=True),
    sa.Column('default_language', sa.String(length=10), nullable=False),
    sa.Column('sms_help_text', sa.String(length=320), nullable=True),
    sa.Column('notice_text', sa.String(length=4000), nullable=True),
    sa.Column('notice_version', sa.String(length=50), nullable=True),
    sa.Column('double_opt_in', sa.Boolean(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_business_units'))
    )
    op.create_table('contacts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('email_key', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('first_name', sa.String(length=200), nullable=True),
    sa.Column('last_name', sa.String(length=200), nullable=True),
    sa.Column('company', sa.String(length=200), nullable=True),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_email_key'), ['email_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_phone'), ['phone'], unique=False)

    op.create_table('erasures',
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('address_hash', 'channel', name=op.f('pk_erasures'))
    )
    op.create_table('idempotency_keys',
    sa.Column('principal', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response_body', sa.LargeBinary(), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('principal', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('job_outcomes',
    sa.Column('job_id', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('subscription_type_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('address', sa.String(length=320), nullable=True),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('job_id', 'seq', 'subscription_type_id', name=op.f('pk_job_outcomes'))
    )
    op.create_table('job_targets',
    sa.Column('job_id', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('address', sa.String(length=320), nullable=True),
    sa.Column('display', sa.String(length=320), nullable=True),
    sa.Column('contact_id', sa.BigInteger(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('job_id', 'seq', name=op.f('pk_job_targets'))
    )
    op.create_table('jobs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=4000), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_status_created_at'), ['status', 'created_at'], unique=False)

    op.create_table('ledger_counter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_counter'))
    )
    op.create_table('ledger_events',
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=True),
    sa.Column('business_unit_id', sa.Integer(), nullable=True),
    sa.Column('subscription_type_id', sa.Integer(), nullable=True),
    sa.Column('old_status', sa.String(length=16), nullable=True),
    sa.Column('new_status', sa.String(length=16), nullable=True),
    sa.Column('legal_basis', sa.String(length=40), nullable=True),
    sa.Column('legal_basis_explanation', sa.String(length=4000), nullable=True),
    sa.Column('processing_legal_basis', sa.String(length=40), nullable=True),
    sa.Column('source', sa.String(length=24), nullable=False),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=100), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=500), nullable=True),
    sa.Column('job_id', sa.String(length=40), nullable=True),
    sa.Column('notice_version', sa.String(length=50), nullable=True),
    sa.Column('notice_text', sa.String(length=4000), nullable=True),
    sa.Column('redacted', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('address_hash', 'id', name=op.f('pk_ledger_events'))
    )
    with op.batch_alter_table('ledger_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_events_id'), ['id'], unique=True)

    op.create_table('outbox',
    sa.Column('event_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_outbox'))
    )
    op.create_table('wide_opt_outs',
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('business_unit_id', sa.Integer(), nullable=False),
    sa.Column('set_by', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=24), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('address', 'channel', 'business_unit_id', name=op.f('pk_wide_opt_outs'))
    )
    op.create_table('subscription_types',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('business_unit_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('purpose', sa.String(length=200), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('translations', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_unit_id'], ['business_units.id'], name=op.f('fk_subscription_types_business_unit_id_business_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_types'))
    )
    with op.batch_alter_table('subscription_types', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_types_business_unit_id_channel_position'), ['business_unit_id', 'channel', 'position'], unique=False)

    op.create_table('subscription_statuses',
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('subscription_type_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('legal_basis', sa.String(length=40), nullable=True),
    sa.Column('legal_basis_explanation', sa.String(length=4000), nullable=True),
    sa.Column('source', sa.String(length=24), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscription_type_id'], ['subscription_types.id'], name=op.f('fk_subscription_statuses_subscription_type_id_subscription_types')),
    sa.PrimaryKeyConstraint('address', 'subscription_type_id', name=op.f('pk_subscription_statuses'))
    )
    with op.batch_alter_table('subscription_statuses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_statuses_subscription_type_id_status'), ['subscription_type_id', 'status'], unique=False)


    create_ledger_guard(op.get_bind(), _GUARDED)
    _seed()


# The columns the guard protected at this revision (migration 0010 adds the hash chain's).
_GUARDED = (
    "address_hash", "id", "at", "kind", "channel", "business_unit_id", "subscription_type_id",
    "old_status", "new_status", "legal_basis", "processing_legal_basis", "source", "actor_kind",
    "actor_id", "job_id", "notice_version",
)


def _seed() -> None:
    import datetime as dt
    import secrets

    now = dt.datetime.now(dt.UTC)
    op.bulk_insert(
        sa.table(
            "account_settings",
            sa.column("id", sa.Integer),
            sa.column("data_privacy_mode", sa.Boolean),
            sa.column("consent_required_to_send", sa.Boolean),
            sa.column("double_opt_in", sa.Boolean),
            sa.column("sms_numbers", sa.JSON),
            sa.column("hash_key", sa.String),
            sa.column("updated_at", sa.DateTime(timezone=True)),
        ),
        [
            {
                "id": 1,
                "data_privacy_mode": False,
                "consent_required_to_send": True,
                "double_opt_in": False,
                "sms_numbers": {},
                "hash_key": secrets.token_hex(32),
                "updated_at": now,
            }
        ],
    )
    op.bulk_insert(
        sa.table(
            "business_units",
            sa.column("id", sa.Integer),
            sa.column("name", sa.String),
            sa.column("default_language", sa.String),
            sa.column("created_at", sa.DateTime(timezone=True)),
            sa.column("updated_at", sa.DateTime(timezone=True)),
        ),
        [{"id": 0, "name": "Account", "default_language": "en", "created_at": now, "updated_at": now}],
    )
    op.bulk_insert(
        sa.table("ledger_counter", sa.column("id", sa.Integer), sa.column("last_id", sa.BigInteger)),
        [{"id": 1, "last_id": 0}],
    )

def downgrade() -> None:
    drop_ledger_guard(op.get_bind())
    with op.batch_alter_table('subscription_statuses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_statuses_subscription_type_id_status'))

    op.drop_table('subscription_statuses')
    with op.batch_alter_table('subscription_types', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_types_business_unit_id_channel_position'))

    op.drop_table('subscription_types')
    op.drop_table('wide_opt_outs')
    op.drop_table('outbox')
    with op.batch_alter_table('ledger_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_events_id'))

    op.drop_table('ledger_events')
    op.drop_table('ledger_counter')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_status_created_at'))

    op.drop_table('jobs')
    op.drop_table('job_targets')
    op.drop_table('job_outcomes')
    op.drop_table('idempotency_keys')
    op.drop_table('erasures')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_phone'))
        batch_op.drop_index(batch_op.f('ix_contacts_email_key'))

    op.drop_table('contacts')
    op.drop_table('business_units')
    op.drop_table('api_keys')
    op.drop_table('addresses')
    op.drop_table('account_settings')
