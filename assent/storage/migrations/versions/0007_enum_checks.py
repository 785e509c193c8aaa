"""CHECK constraints on the enum-valued text columns (channels, statuses, sources, actor
classes, legal bases, event kinds and states, job statuses, outcomes).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

The values are the domain's enums (`assent/domain/model.py`) as they are today, written out
so that this migration never changes when an enum grows: a new value is a new migration.
`storage/tables.py` builds the same constraints from the enums (`one_of`).

SQLite cannot add a constraint to a table: Alembic's batch mode copies each table into a new
one. The ledger's append-only triggers go with the old table and are created again, and
`storage/migrate.py` turns foreign keys off around migrations on SQLite (a parent table is
copied too), checking them before it commits.
"""

from __future__ import annotations

from alembic import op

from assent.storage.ledger_guard import create_ledger_guard, drop_ledger_guard

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The columns the ledger's guard protects at this revision (migration 0010 adds the hash
# chain's): the guard is created again over these, not over today's columns.
GUARDED = (
    "address_hash", "id", "at", "kind", "channel", "business_unit_id", "subscription_type_id",
    "old_status", "new_status", "legal_basis", "processing_legal_basis", "source", "actor_kind",
    "actor_id", "job_id", "notice_version",
)  # fmt: skip

# table -> [(constraint name, condition)]
CHECKS: dict[str, list[tuple[str, str]]] = {
    "addresses": [
        ("ck_addresses_channel_valid", "channel IN ('EMAIL', 'SMS', 'WHATSAPP')"),
        ("ck_addresses_confirmation_valid", "confirmation IN ('CONFIRMED', 'PENDING')"),
        ("ck_addresses_processing_legal_basis_valid", "processing_legal_basis IN ('CONSENT_WITH_NOTICE', 'LEGITIMATE_INTEREST_CLIENT', 'LEGITIMATE_INTEREST_OTHER', 'LEGITIMATE_INTEREST_PQL', 'NON_GDPR', 'PERFORMANCE_OF_CONTRACT', 'PROCESS_AND_STORE')"),
    ],
    "erasures": [
        ("ck_erasures_channel_valid", "channel IN ('EMAIL', 'SMS', 'WHATSAPP')"),
    ],
    "job_outcomes": [
        ("ck_job_outcomes_outcome_valid", "outcome IN ('CHANGED', 'REFUSED', 'UNCHANGED')"),
    ],
    "jobs": [
        ("ck_jobs_status_valid", "status IN ('FAILED', 'QUEUED', 'RUNNING', 'SUCCEEDED')"),
    ],
    "ledger_events": [
        ("ck_ledger_events_channel_valid", "channel IN ('EMAIL', 'SMS', 'WHATSAPP')"),
        ("ck_ledger_events_old_status_valid", "old_status IN ('CONFIRMED', 'DELIVERABLE', 'ERASED', 'NOT_APPLIED', 'NOT_SPECIFIED', 'PENDING', 'SOFT_BOUNCE', 'SUBSCRIBED', 'UNDELIVERABLE', 'UNSUBSCRIBED')"),
        ("ck_ledger_events_legal_basis_valid", "legal_basis IN ('CONSENT_WITH_NOTICE', 'LEGITIMATE_INTEREST_CLIENT', 'LEGITIMATE_INTEREST_OTHER', 'LEGITIMATE_INTEREST_PQL', 'NON_GDPR', 'PERFORMANCE_OF_CONTRACT', 'PROCESS_AND_STORE')"),
        ("ck_ledger_events_kind_valid", "kind IN ('CONFIRMATION', 'ERASURE', 'ESP_RESUBSCRIBE', 'SOFT_BOUNCE', 'STATUS', 'UNDELIVERABLE', 'WIDE_OPT_OUT')"),
        ("ck_ledger_events_new_status_valid", "new_status IN ('CONFIRMED', 'DELIVERABLE', 'ERASED', 'NOT_APPLIED', 'NOT_SPECIFIED', 'PENDING', 'SOFT_BOUNCE', 'SUBSCRIBED', 'UNDELIVERABLE', 'UNSUBSCRIBED')"),
        ("ck_ledger_events_actor_kind_valid", "actor_kind IN ('CONTACT', 'IMPORT', 'PROVIDER', 'SYSTEM', 'USER', 'WORKFLOW')"),
        ("ck_ledger_events_processing_legal_basis_valid", "processing_legal_basis IN ('CONSENT_WITH_NOTICE', 'LEGITIMATE_INTEREST_CLIENT', 'LEGITIMATE_INTEREST_OTHER', 'LEGITIMATE_INTEREST_PQL', 'NON_GDPR', 'PERFORMANCE_OF_CONTRACT', 'PROCESS_AND_STORE')"),
        ("ck_ledger_events_source_valid", "source IN ('API', 'BOUNCE', 'BULK', 'DOUBLE_OPT_IN', 'ERASURE', 'ESP_UNSUBSCRIBE', 'FORM', 'HUBSPOT_API', 'IMPORT', 'MANUAL', 'ONE_CLICK', 'PREFERENCE_CENTER', 'SMS_KEYWORD', 'SPAM_COMPLAINT', 'SYSTEM', 'WHATSAPP_KEYWORD', 'WORKFLOW')"),
    ],
    "link_subjects": [
        ("ck_link_subjects_channel_valid", "channel IN ('EMAIL', 'SMS', 'WHATSAPP')"),
    ],
    "wide_opt_outs": [
        ("ck_wide_opt_outs_channel_valid", "channel IN ('EMAIL', 'SMS', 'WHATSAPP')"),
        ("ck_wide_opt_outs_set_by_valid", "set_by IN ('CONTACT', 'IMPORT', 'PROVIDER', 'SYSTEM', 'USER', 'WORKFLOW')"),
        ("ck_wide_opt_outs_source_valid", "source IN ('API', 'BOUNCE', 'BULK', 'DOUBLE_OPT_IN', 'ERASURE', 'ESP_UNSUBSCRIBE', 'FORM', 'HUBSPOT_API', 'IMPORT', 'MANUAL', 'ONE_CLICK', 'PREFERENCE_CENTER', 'SMS_KEYWORD', 'SPAM_COMPLAINT', 'SYSTEM', 'WHATSAPP_KEYWORD', 'WORKFLOW')"),
    ],
    "subscription_types": [
        ("ck_subscription_types_channel_valid", "channel IN ('EMAIL', 'SMS', 'WHATSAPP')"),
    ],
    "subscription_statuses": [
        ("ck_subscription_statuses_channel_valid", "channel IN ('EMAIL', 'SMS', 'WHATSAPP')"),
        ("ck_subscription_statuses_source_valid", "source IN ('API', 'BOUNCE', 'BULK', 'DOUBLE_OPT_IN', 'ERASURE', 'ESP_UNSUBSCRIBE', 'FORM', 'HUBSPOT_API', 'IMPORT', 'MANUAL', 'ONE_CLICK', 'PREFERENCE_CENTER', 'SMS_KEYWORD', 'SPAM_COMPLAINT', 'SYSTEM', 'WHATSAPP_KEYWORD', 'WORKFLOW')"),
        ("ck_subscription_statuses_status_valid", "status IN ('NOT_SPECIFIED', 'SUBSCRIBED', 'UNSUBSCRIBED')"),
        ("ck_subscription_statuses_legal_basis_valid", "legal_basis IN ('CONSENT_WITH_NOTICE', 'LEGITIMATE_INTEREST_CLIENT', 'LEGITIMATE_INTEREST_OTHER', 'LEGITIMATE_INTEREST_PQL', 'NON_GDPR', 'PERFORMANCE_OF_CONTRACT', 'PROCESS_AND_STORE')"),
    ],
}


def upgrade() -> None:
    bind = op.get_bind()
    drop_ledger_guard(bind)
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            for name, condition in checks:
                batch.create_check_constraint(op.f(name), condition)
    create_ledger_guard(bind, GUARDED)


def downgrade() -> None:
    bind = op.get_bind()
    drop_ledger_guard(bind)
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            for name, _ in checks:
                batch.drop_constraint(op.f(name), type_="check")
    create_ledger_guard(bind, GUARDED)
