"""The schema, as SQLAlchemy Core tables. Migrations (storage/migrations) create it.

Per-address tables lead their primary key with the address (or, for the ledger and the
erasure list, its keyed hash), so that each can be distributed by that column on a sharded
PostgreSQL (Citus) without changing a query (SPEC §4).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from assent.domain.model import (
    ActorClass,
    Channel,
    ConfirmationState,
    EventKind,
    EventState,
    JobStatus,
    LegalBasis,
    Outcome,
    Source,
    Status,
)
from assent.domain.webhooks import AttemptOutcome, DeliveryState, MailState

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Always-UTC, always-aware datetimes on both backends (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def one_of(column: str, *enums: type[StrEnum]) -> sa.CheckConstraint:
    """A CHECK that an enum-valued text column holds one of the enum's values (migration
    0007 adds the same constraints; NULL passes where the column allows it)."""
    values = sorted({member.value for enum in enums for member in enum})
    listed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=f"{column}_valid")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


Text = sa.String  # lengths are checked by the API; the database does not truncate

account_settings = sa.Table(
    "account_settings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),  # always 1
    sa.Column("data_privacy_mode", sa.Boolean, nullable=False, default=False),
    sa.Column("consent_required_to_send", sa.Boolean, nullable=False, default=True),
    sa.Column("double_opt_in", sa.Boolean, nullable=False, default=False),
    sa.Column("default_phone_region", Text(2), nullable=True),
    sa.Column("sms_numbers", sa.JSON, nullable=False, default=dict),
    # The key of the keyed hash that names erased addresses (R22). Kept in the database,
    # not in the signing keys, so that rotating those never forgets an erasure.
    sa.Column("hash_key", Text(64), nullable=False),
    # The signing key generated when ASSENT_SECRET_KEYS is unset: in the database, so that
    # every host on it signs and verifies the same links (config.py, actions/account.py).
    sa.Column("development_secret_key", Text(100), nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # OPT_OUT or REVIEW: what a text with a STOP-family word among other words does (R27)
    sa.Column("sms_revocation_policy", Text(10), nullable=False, server_default="OPT_OUT"),
)

business_units = sa.Table(
    "business_units",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", Text(200), nullable=False),
    sa.Column("company_name", Text(200), nullable=True),
    sa.Column("postal_address", Text(500), nullable=True),
    sa.Column("logo_url", Text(2000), nullable=True),
    sa.Column("primary_color", Text(7), nullable=True),
    sa.Column("accent_color", Text(7), nullable=True),
    sa.Column("default_language", Text(10), nullable=False, default="en"),
    sa.Column("sms_help_text", Text(320), nullable=True),
    sa.Column("notice_text", Text(4000), nullable=True),
    sa.Column("notice_version", Text(50), nullable=True),
    # the notice in other languages, {language: {"text": ...}} (migration 0016)
    sa.Column("notice_translations", sa.JSON, nullable=True),
    sa.Column("double_opt_in", sa.Boolean, nullable=True),  # None: the account setting
    # Email people a signed receipt of their own opt-in (preference center, signup)
    sa.Column("consent_receipts", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # SMS/WhatsApp (issue 12; why JSON: migration 0012): extra keywords {opt_out, opt_in,
    # help: [..]}, reply texts {opt_out, opt_in, help}, and sending windows {SMS, WHATSAPP:
    # {start, end, days} | null}. None everywhere means the defaults and no quiet hours.
    sa.Column("sms_keywords", sa.JSON, nullable=True),
    sa.Column("sms_replies", sa.JSON, nullable=True),
    sa.Column("quiet_hours", sa.JSON, nullable=True),
)

subscription_types = sa.Table(
    "subscription_types",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "business_unit_id", sa.Integer, sa.ForeignKey("business_units.id"), nullable=False
    ),
    sa.Column("channel", Text(10), nullable=False),
    sa.Column("name", Text(200), nullable=False),
    sa.Column("description", Text(2000), nullable=False, default=""),
    sa.Column("purpose", Text(200), nullable=True),
    sa.Column("is_active", sa.Boolean, nullable=False, default=True),
    sa.Column("position", sa.Integer, nullable=False, default=0),
    sa.Column("translations", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # The SendGrid unsubscribe group (asm_group_id) that stands for this type (issue 13)
    sa.Column("sendgrid_group_id", sa.Integer, nullable=True),
    sa.Index(None, "business_unit_id", "channel", "position"),
    sa.Index(None, "sendgrid_group_id", unique=True),
    one_of("channel", Channel),
)

addresses = sa.Table(
    "addresses",
    metadata,
    sa.Column("address", Text(320), primary_key=True),
    sa.Column("channel", Text(10), primary_key=True),
    sa.Column("display", Text(320), nullable=False),
    sa.Column("undeliverable", sa.Boolean, nullable=False, default=False),
    sa.Column("undeliverable_reason", Text(500), nullable=True),
    sa.Column("soft_bounces", sa.Integer, nullable=False, default=0),
    sa.Column("undeliverable_at", UTCDateTime, nullable=True),
    sa.Column("last_soft_bounce_at", UTCDateTime, nullable=True),
    sa.Column("last_soft_bounce_reason", Text(500), nullable=True),  # the provider's diagnostic
    sa.Column("confirmation", Text(10), nullable=True),  # None, PENDING, CONFIRMED (R16)
    sa.Column("confirmation_at", UTCDateTime, nullable=True),
    sa.Column("processing_legal_basis", Text(40), nullable=True),
    sa.Column("processing_legal_basis_explanation", Text(4000), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    one_of("channel", Channel),
    one_of("confirmation", ConfirmationState),
    one_of("processing_legal_basis", LegalBasis),
    # Long audience filters read a channel's few flagged addresses at once
    # (services/decisions.py): partial indexes make that a short scan, not a pass over all.
    sa.Index(
        "ix_addresses_undeliverable",
        "channel",
        "address",
        sqlite_where=sa.text("undeliverable"),
        postgresql_where=sa.text("undeliverable"),
    ),
    sa.Index(
        "ix_addresses_pending",
        "channel",
        "address",
        sqlite_where=sa.text("confirmation = 'PENDING'"),
        postgresql_where=sa.text("confirmation = 'PENDING'"),
    ),
)

subscription_statuses = sa.Table(
    "subscription_statuses",
    metadata,
    sa.Column("address", Text(320), primary_key=True),
    sa.Column(
        "subscription_type_id",
        sa.Integer,
        sa.ForeignKey("subscription_types.id"),
        primary_key=True,
    ),
    sa.Column("channel", Text(10), nullable=False),
    sa.Column("status", Text(16), nullable=False),
    sa.Column("legal_basis", Text(40), nullable=True),
    sa.Column("legal_basis_explanation", Text(4000), nullable=True),
    sa.Column("source", Text(24), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # With the address in it, decisions read "who opted out of type T" from the index alone.
    sa.Index(None, "subscription_type_id", "status", "address"),
    one_of("channel", Channel),
    one_of("status", Status),
    one_of("legal_basis", LegalBasis),
    one_of("source", Source),
)

wide_opt_outs = sa.Table(
    "wide_opt_outs",
    metadata,
    sa.Column("address", Text(320), primary_key=True),
    sa.Column("channel", Text(10), primary_key=True),
    sa.Column("business_unit_id", sa.Integer, primary_key=True),
    sa.Column("set_by", Text(16), nullable=False),
    sa.Column("source", Text(24), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    # "who is unsubscribed from all of this unit's email", from the index alone (decisions)
    sa.Index(None, "channel", "business_unit_id", "address"),
    one_of("channel", Channel),
    one_of("set_by", ActorClass),
    one_of("source", Source),
)

erasures = sa.Table(
    "erasures",
    metadata,
    sa.Column("address_hash", Text(64), primary_key=True),
    sa.Column("channel", Text(10), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False),
    one_of("channel", Channel),
)

_LEDGER_PERSONAL = ("address", "legal_basis_explanation", "ip", "user_agent", "notice_text")

ledger_events = sa.Table(
    "ledger_events",
    metadata,
    sa.Column("address_hash", Text(64), primary_key=True),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", Text(20), nullable=False),
    sa.Column("channel", Text(10), nullable=False),
    sa.Column("address", Text(320), nullable=True),  # personal: erasure redacts it
    sa.Column("business_unit_id", sa.Integer, nullable=True),
    sa.Column("subscription_type_id", sa.Integer, nullable=True),
    sa.Column("old_status", Text(16), nullable=True),
    sa.Column("new_status", Text(16), nullable=True),
    sa.Column("legal_basis", Text(40), nullable=True),
    sa.Column("legal_basis_explanation", Text(4000), nullable=True),  # personal
    sa.Column("processing_legal_basis", Text(40), nullable=True),
    sa.Column("source", Text(24), nullable=False),
    sa.Column("actor_kind", Text(16), nullable=False),
    sa.Column("actor_id", Text(100), nullable=True),
    sa.Column("ip", Text(64), nullable=True),  # personal
    sa.Column("user_agent", Text(500), nullable=True),  # personal
    sa.Column("job_id", Text(40), nullable=True),
    sa.Column("notice_version", Text(50), nullable=True),
    sa.Column("notice_text", Text(4000), nullable=True),  # personal: may quote the person
    sa.Column("redacted", sa.Boolean, nullable=False, default=False),
    # The hash chain (migration 0010, services/chain.py): SHA-256 over the recorded fields,
    # the personal fields' keyed digests and the previous event's hash. The digests stay
    # when erasure blanks the fields, so an erased event still verifies (as redacted).
    sa.Column("hash", Text(64), nullable=True),
    sa.Column("prev_hash", Text(64), nullable=True),
    *(sa.Column(f"{name}_digest", Text(32), nullable=True) for name in _LEDGER_PERSONAL),
    # The feed (events?after=) reads in id order; ids are handed out in commit order.
    sa.Index(None, "id", unique=True),
    one_of("kind", EventKind),
    one_of("channel", Channel),
    one_of("old_status", Status, EventState, ConfirmationState),
    one_of("new_status", Status, EventState, ConfirmationState),
    one_of("legal_basis", LegalBasis),
    one_of("processing_legal_basis", LegalBasis),
    one_of("source", Source),
    one_of("actor_kind", ActorClass),
)

#: Columns erasure may blank out; the database refuses every other UPDATE (R24).
LEDGER_PERSONAL_COLUMNS = _LEDGER_PERSONAL

# One row. Taking the next ids from it locks the row until commit, so ledger ids are
# handed out in commit order with no gaps, and a feed reader never skips an event that
# commits late (a plain sequence gives no such promise).
ledger_counter = sa.Table(
    "ledger_counter",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("last_id", sa.BigInteger, nullable=False),
    # The chain's head, the hash of event `last_id`: read and replaced under the same lock.
    sa.Column("last_hash", Text(64), nullable=True),
    # The key of the ledger's personal-field digests (hex), generated by migration 0010.
    sa.Column("digest_key", Text(64), nullable=True),
)

# Signed statements of the chain's head (issue 17): published elsewhere, they pin the history.
ledger_checkpoints = sa.Table(
    "ledger_checkpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("last_event_id", sa.BigInteger, nullable=False),
    sa.Column("last_hash", Text(64), nullable=False),
    sa.Column("at", Text(32), nullable=False),  # exactly as signed (canonical UTC text)
    sa.Column("signature", Text(200), nullable=False),
    sa.Index(None, "last_event_id"),
)

# The Ed25519 key that signs checkpoints and receipts when ASSENT_LEDGER_SIGNING_KEY is unset,
# generated once (one row, id 1) — kept like the erasure hash key, in the database.
ledger_signing_keys = sa.Table(
    "ledger_signing_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("private_key_pem", Text(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("event_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("address_hash", Text(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("published_at", UTCDateTime, nullable=True),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("email", Text(320), nullable=True),  # display form
    sa.Column("email_key", Text(320), nullable=True),  # addresses.address of the email
    sa.Column("phone", Text(20), nullable=True),  # E.164
    sa.Column("first_name", Text(200), nullable=True),
    sa.Column("last_name", Text(200), nullable=True),
    sa.Column("company", Text(200), nullable=True),
    sa.Column("properties", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # One contact per email address (migration 0008): an import updates the contact that
    # has the address instead of guessing between several. A phone may be shared (a family,
    # a switchboard), as in HubSpot, which deduplicates contacts by email only.
    sa.Index(None, "email_key", unique=True),
    sa.Index(None, "phone"),
)


class lower_c(FunctionElement[str]):  # noqa: N801  (an SQL function's name)
    """`lower(x)`, compared in the "C" collation on PostgreSQL (SQLite's BINARY already is)."""

    name = "lower_c"
    inherit_cache = True


class email_domain_c(FunctionElement[str]):  # noqa: N801
    """The part of an email key after the "@", in the "C" collation on PostgreSQL."""

    name = "email_domain_c"
    inherit_cache = True


class collate_c(FunctionElement[str]):  # noqa: N801
    """The value itself, compared in the "C" collation on PostgreSQL."""

    name = "collate_c"
    inherit_cache = True


def _arg(compiler: SQLCompiler, element: FunctionElement[str], **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(lower_c, "postgresql")
def _lower_c_pg(element: lower_c, compiler: SQLCompiler, **kw: Any) -> str:
    return f'lower({_arg(compiler, element, **kw)}) COLLATE "C"'


@compiles(lower_c)
def _lower_c(element: lower_c, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({_arg(compiler, element, **kw)})"


@compiles(email_domain_c, "postgresql")
def _domain_pg(element: email_domain_c, compiler: SQLCompiler, **kw: Any) -> str:
    return f"split_part({_arg(compiler, element, **kw)}, '@', 2) COLLATE \"C\""


@compiles(email_domain_c)
def _domain(element: email_domain_c, compiler: SQLCompiler, **kw: Any) -> str:
    value = _arg(compiler, element, **kw)
    return f"substr({value}, instr({value}, '@') + 1)"


@compiles(collate_c, "postgresql")
def _collate_c_pg(element: collate_c, compiler: SQLCompiler, **kw: Any) -> str:
    return f'{_arg(compiler, element, **kw)} COLLATE "C"'


@compiles(collate_c)
def _collate_c(element: collate_c, compiler: SQLCompiler, **kw: Any) -> str:
    return _arg(compiler, element, **kw)


# Searching contacts by the start of a name, company, email, domain or phone (migration
# 0004). services/contact_search.py queries these very expressions: an expression index
# serves only the same expression. On SQLite the email_key and phone indexes above serve
# those two (its BINARY collation already compares code points, as "C" does).
for _name, _expression in (
    ("first_name", lower_c(contacts.c.first_name)),
    ("last_name", lower_c(contacts.c.last_name)),
    ("company", lower_c(contacts.c.company)),
    ("email_domain", email_domain_c(contacts.c.email_key)),
):
    sa.Index(f"ix_contacts_search_{_name}", _expression)
for _name in ("email_key", "phone"):
    sa.Index(f"ix_contacts_search_{_name}", collate_c(contacts.c[_name])).ddl_if(dialect="postgresql")


def builds_on(index: sa.Index, dialect_name: str) -> bool:
    """Whether the migrations build `index` on this dialect (see `Index.ddl_if`)."""
    condition = getattr(index, "_ddl_if", None)
    return condition is None or condition.dialect is None or condition.dialect == dialect_name

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", Text(16), primary_key=True),  # the public part of the key
    sa.Column("name", Text(200), nullable=False),
    sa.Column("secret_hash", Text(64), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("principal", Text(40), primary_key=True),
    sa.Column("key", Text(200), primary_key=True),
    sa.Column("request_hash", Text(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("response_body", sa.LargeBinary, nullable=False),
    sa.Column("content_type", Text(100), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", Text(40), primary_key=True),
    sa.Column("kind", Text(40), nullable=False),
    sa.Column("status", Text(16), nullable=False),  # JobStatus
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("total", sa.Integer, nullable=False, default=0),
    sa.Column("done", sa.Integer, nullable=False, default=0),
    sa.Column("counts", sa.JSON, nullable=False, default=dict),
    sa.Column("lease_owner", Text(100), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error", Text(4000), nullable=True),
    sa.Column("created_by", Text(100), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Index(None, "status", "created_at"),
    one_of("status", JobStatus),
)

job_targets = sa.Table(
    "job_targets",
    metadata,
    sa.Column("job_id", Text(40), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("address", Text(320), nullable=True),  # None: the row was not an address
    sa.Column("display", Text(320), nullable=True),
    sa.Column("contact_id", sa.BigInteger, nullable=True),
    sa.Column("error", Text(500), nullable=True),
)

job_outcomes = sa.Table(
    "job_outcomes",
    metadata,
    sa.Column("job_id", Text(40), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    # 0 for an outcome that concerns no single type (a wide opt-out, a bad row)
    sa.Column("subscription_type_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("address", Text(320), nullable=True),
    sa.Column("outcome", Text(10), nullable=False),
    sa.Column("reason", Text(40), nullable=True),
    one_of("outcome", Outcome),
)

# --- admin UI: users, their sessions, and sign-in throttling (issue 4) --------------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", Text(320), nullable=False, unique=True),  # lower-cased: the sign-in name
    sa.Column("password_hash", Text(200), nullable=False),  # argon2id, with its parameters
    sa.Column("role", Text(10), nullable=False),  # admin, editor, viewer
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("last_login_at", UTCDateTime, nullable=True),
    sa.Column("disabled_at", UTCDateTime, nullable=True),
)

# Server-side sessions: the cookie holds a random token, the table its SHA-256. Signing out,
# disabling a user or a password change ends sessions at once, in every process.
admin_sessions = sa.Table(
    "admin_sessions",
    metadata,
    sa.Column("id", Text(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Index(None, "user_id"),
)

# Failed sign-ins per hashed key ("email:<address>" or "ip:<address>") in a fixed window.
# In the database, not in memory, because several processes may serve the admin UI.
login_throttle = sa.Table(
    "login_throttle",
    metadata,
    sa.Column("key", Text(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("window_started_at", UTCDateTime, nullable=False),
)

# Changes that are not per address (settings, the catalog, users, API and form keys), each
# written by its action in the same transaction as the change (actions/, domain/audit.py).
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("tag", Text(60), nullable=False),  # domain.audit.AuditTag
    sa.Column("subject_id", Text(100), nullable=True),  # what changed: a type, unit, user or key id
    sa.Column("actor_kind", Text(16), nullable=False),  # as the ledger names actors
    sa.Column("actor_id", Text(100), nullable=True),
    sa.Column("before", sa.JSON, nullable=True),
    sa.Column("after", sa.JSON, nullable=True),
    sa.Column("ip", Text(64), nullable=True),  # truncated, as in the ledger
    sa.Column("user_agent", Text(500), nullable=True),
    sa.Index(None, "tag", "id"),
)

# --- contact-facing pages: links, rate limits, local mail outbox, form keys (issue 3) -----

# What a signed link points at. A link token carries only the keyed address hash (the same
# pseudonym the ledger is keyed by), never the address: the address is looked up here.
# Keyed by that hash so that it shards like the ledger, and so that erasure (R22), which
# knows the hash, deletes the row and every link to the person stops working.
link_subjects = sa.Table(
    "link_subjects",
    metadata,
    sa.Column("address_hash", Text(64), primary_key=True),
    sa.Column("channel", Text(10), nullable=False),
    # personal; NULL once erased (the row stays to keep its generation)
    sa.Column("address", Text(320), nullable=True),  # the addresses.address key
    sa.Column("display", Text(320), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    #: tokens name the generation they were issued for; each erasure bumps it (migration 0009)
    sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
    one_of("channel", Channel),
)

# Public pages' request counters (get-my-link, signup, resubscribe emails) in fixed windows.
# In the database, not in memory, because several processes may serve the pages. Keys are
# keyed hashes ("<purpose>:<hash of address or client>"), never raw addresses or IPs.
rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", Text(100), primary_key=True),
    sa.Column("bucket", sa.BigInteger, nullable=False),  # when the window opened, epoch seconds
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index(None, "expires_at"),
)

# Mail that would have gone out by SMTP when ASSENT_SMTP_URL is unset, so that a first run
# needs no mail server and a developer can read (and click) what was sent.
mail_outbox = sa.Table(
    "mail_outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("recipient", Text(320), nullable=False),  # personal
    sa.Column("subject", Text(500), nullable=False),
    sa.Column("message", sa.LargeBinary, nullable=False),  # the whole RFC 5322 message
)

# Per-BU public keys for website signup forms (POST /api/v1/form-submissions). Public by
# design (they sit in a web page), so a key only lets a form opt people in as themselves;
# stored hashed anyway, and rotating one replaces it.
form_keys = sa.Table(
    "form_keys",
    metadata,
    sa.Column("key_hash", Text(64), primary_key=True),
    sa.Column(
        "business_unit_id", sa.Integer, sa.ForeignKey("business_units.id"), nullable=False, unique=True
    ),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# --- email feedback from the sending providers (issue 13) -----------------------------------

# Every provider event that meant something, keyed by the provider's own id (SNS MessageId,
# SendGrid sg_event_id, Postmark ID, Mailgun event-data.id), written in the transaction of
# the change it made: a provider's retry finds it and writes nothing twice. The address is
# named only by its keyed hash, so an erased address (R22) is never written again here.
inbound_events = sa.Table(
    "inbound_events",
    metadata,
    sa.Column("provider", Text(16), primary_key=True),
    sa.Column("event_id", Text(200), primary_key=True),
    sa.Column("address_hash", Text(64), nullable=True),
    sa.Column("kind", Text(24), nullable=False),  # domain.feedback.FeedbackKind
    sa.Column("effect", Text(24), nullable=False),  # domain.feedback.EffectKind
    sa.Column("received_at", UTCDateTime, nullable=False),
)

# Webhook tokens already accepted (Mailgun signs timestamp + token, not the body: a token
# seen twice is a replay). Kept a day, far past the five minutes a timestamp is fresh.
inbound_tokens = sa.Table(
    "inbound_tokens",
    metadata,
    sa.Column("provider", Text(16), primary_key=True),
    sa.Column("token", Text(200), primary_key=True),
    sa.Column("seen_at", UTCDateTime, nullable=False),
    sa.Index(None, "seen_at"),
)

# --- imports (R21, R34) --------------------------------------------------------------------

#: An uploaded CSV file: what was detected, what the user chose, and what a dry run predicts.
#: Its records live in `import_chunks`; once confirmed it runs as a job (`job_id`).
imports = sa.Table(
    "imports",
    metadata,
    sa.Column("id", Text(40), primary_key=True),
    sa.Column("kind", Text(10), nullable=False),  # OPT_OUTS, CONTACTS
    sa.Column("status", Text(24), nullable=False),  # AWAITING_CONFIRMATION, QUEUED, CANCELLED (then the job's)
    sa.Column("channel", Text(10), nullable=False),
    sa.Column("business_unit_id", sa.Integer, nullable=False),
    sa.Column("file_name", Text(300), nullable=True),
    sa.Column("delimiter", Text(1), nullable=False),
    sa.Column("columns", sa.JSON, nullable=False),
    sa.Column("mapping", sa.JSON, nullable=False),
    sa.Column("sample", sa.JSON, nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("last_line", sa.Integer, nullable=False),
    sa.Column("predicted", sa.JSON, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("created_by", Text(100), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("confirmed_by", Text(100), nullable=True),
    sa.Column("confirmed_at", UTCDateTime, nullable=True),
    sa.Column("job_id", Text(40), nullable=True),
    sa.Index(None, "created_at"),
)

#: The file's records, ~1000 per row, each `[line number, [fields…]]`: any worker on any
#: machine can run the import, and the job reads exactly the lines of its chunk.
import_chunks = sa.Table(
    "import_chunks",
    metadata,
    sa.Column("import_id", Text(40), sa.ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("first_line", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_line", sa.Integer, nullable=False),
    sa.Column("records", sa.JSON, nullable=False),
)

#: Problems found while reading the file (a ragged line, an over-long field, a bad header):
#: reported with the job's refusals in the error report, by the file's own line numbers.
import_errors = sa.Table(
    "import_errors",
    metadata,
    sa.Column("import_id", Text(40), sa.ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("line", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("column", Text(200), primary_key=True),
    sa.Column("value", Text(200), nullable=True),
    sa.Column("reason", Text(40), nullable=False),
)

# --- workflows (R23) ------------------------------------------------------------------------

workflows = sa.Table(
    "workflows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", Text(200), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("reenroll", sa.Boolean, nullable=False),
    sa.Column("trigger", sa.JSON, nullable=False),
    sa.Column("actions", sa.JSON, nullable=False),
    sa.Column("created_by", Text(100), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # a deleted workflow keeps its run log readable
    sa.Column("deleted_at", UTCDateTime, nullable=True),
)

#: One enrollment of a contact: its id is "<job id>:<seq>", so a chunk done again after a
#: crash writes the same rows; `once_key` ("<workflow>:<contact>", null when the workflow
#: re-enrolls) makes the database refuse a second enrollment however it was triggered.
workflow_runs = sa.Table(
    "workflow_runs",
    metadata,
    sa.Column("id", Text(60), primary_key=True),
    sa.Column("workflow_id", sa.Integer, nullable=False),
    sa.Column("contact_id", sa.BigInteger, nullable=False),
    sa.Column("address", Text(320), nullable=True),
    sa.Column("trigger", Text(20), nullable=False),
    sa.Column("job_id", Text(40), nullable=False),
    sa.Column("once_key", Text(40), nullable=True, unique=True),
    sa.Column("enrolled_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Index(None, "workflow_id", "id"),
)

workflow_run_actions = sa.Table(
    "workflow_run_actions",
    metadata,
    sa.Column("run_id", Text(60), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("workflow_id", sa.Integer, nullable=False),
    sa.Column("type", Text(30), nullable=False),
    sa.Column("subscription_type_id", sa.Integer, nullable=True),
    sa.Column("business_unit_id", sa.Integer, nullable=True),
    sa.Column("outcome", Text(10), nullable=False),
    sa.Column("reason", Text(40), nullable=True),
    sa.Index(None, "workflow_id", "outcome"),
)

# --- SMS and WhatsApp keywords (issue 12) -------------------------------------------------

# Every inbound Twilio message, and every status callback that changed state, once: the
# primary key is the dedupe (a retry finds its row and gets the stored `reply`). A message
# held for review (`review` = PENDING) is the review queue. See migration 0012.
sms_messages = sa.Table(
    "sms_messages",
    metadata,
    sa.Column("address_hash", Text(64), primary_key=True),
    sa.Column("message_sid", Text(64), primary_key=True),
    sa.Column("event", Text(20), primary_key=True),  # "received", or the callback's MessageStatus
    sa.Column("channel", Text(10), nullable=False),
    sa.Column("address", Text(320), nullable=True),  # personal: the addresses.address key
    sa.Column("business_unit_id", sa.Integer, nullable=False),
    sa.Column("body", Text(1600), nullable=True),  # personal: what the person wrote
    sa.Column("kind", Text(12), nullable=True),  # domain.keywords.MessageKind
    sa.Column("keyword", Text(60), nullable=True),
    sa.Column("error_code", Text(10), nullable=True),
    sa.Column("reply", Text(1600), nullable=True),  # the one reply sent, if any
    sa.Column("review", Text(10), nullable=True),  # PENDING, CONFIRMED, DISMISSED
    sa.Column("review_note", Text(2000), nullable=True),
    sa.Column("reviewed_by", Text(100), nullable=True),
    sa.Column("reviewed_at", UTCDateTime, nullable=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Index(None, "review", "received_at"),
)

# --- outbound webhooks and queued mail (issue 14, SPEC R25, R33) ---------------------------

# Unpublished outbox rows, oldest first: the dispatcher's fan-out reads them through this.
sa.Index("ix_outbox_published_at_event_id", outbox.c.published_at, outbox.c.event_id)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", Text(40), primary_key=True),
    sa.Column("url", Text(2000), nullable=False),
    sa.Column("description", Text(500), nullable=True),
    sa.Column("event_types", sa.JSON, nullable=False),  # ["*"] or names of domain.webhooks.EventType
    sa.Column("enabled", sa.Boolean, nullable=False),
    # Standard Webhooks secrets ("whsec_" + base64). Kept in the clear: signing needs them.
    sa.Column("secret", Text(100), nullable=False),
    sa.Column("previous_secret", Text(100), nullable=True),  # still signs until previous_secret_until
    sa.Column("previous_secret_until", UTCDateTime, nullable=True),
    sa.Column("secret_rotated_at", UTCDateTime, nullable=True),
    sa.Column("disabled_at", UTCDateTime, nullable=True),
    sa.Column("disabled_reason", Text(1000), nullable=True),
    # The first failure since the last success; three days of it disable the endpoint.
    sa.Column("failing_since", UTCDateTime, nullable=True),
    # The ledger position when the endpoint was created: it receives the events after it.
    sa.Column("start_after", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# One row per (endpoint, ledger event) the endpoint receives: its delivery state. Rows of
# one address and endpoint go out in event order: a row is due only when no earlier row of
# its lane (endpoint, address_hash) is still PENDING. `next_attempt_at` is NULL while the
# row waits behind such an earlier one. Workers hold a row by a compare-and-set lease.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("endpoint_id", Text(40), sa.ForeignKey("webhook_endpoints.id"), primary_key=True),
    sa.Column("event_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("address_hash", Text(64), nullable=False),
    sa.Column("state", Text(10), nullable=False),  # domain.webhooks.DeliveryState
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Column("first_attempt_at", UTCDateTime, nullable=True),  # the retry window starts here
    sa.Column("lease_owner", Text(100), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", Text(500), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Index("ix_webhook_deliveries_due", "endpoint_id", "state", "next_attempt_at", "event_id"),
    sa.Index("ix_webhook_deliveries_lane", "endpoint_id", "address_hash", "state", "event_id"),
    one_of("state", DeliveryState),
)

# Every attempt, for the delivery log (GET /api/v1/webhooks/{id}/deliveries), newest first.
webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("endpoint_id", Text(40), sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("event_id", sa.BigInteger, nullable=True),  # None: a test event
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("outcome", Text(10), nullable=False),  # domain.webhooks.AttemptOutcome
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", Text(500), nullable=True),
    sa.Column("response_body", Text(4096), nullable=True),  # the first 4 KB
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Index(None, "endpoint_id", "id"),
    one_of("outcome", AttemptOutcome),
)

# Mail Assent sends (preference links, confirmations, resubscribe invitations), written in
# the transaction that decides to send it and delivered by the worker with retries (R33).
mail_queue = sa.Table(
    "mail_queue",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("recipient", Text(320), nullable=False),  # personal
    sa.Column("subject", Text(500), nullable=False),
    sa.Column("message", sa.LargeBinary, nullable=False),  # the whole RFC 5322 message
    sa.Column("state", Text(10), nullable=False),  # domain.webhooks.MailState
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Column("lease_owner", Text(100), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("last_error", Text(500), nullable=True),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Index(None, "state", "next_attempt_at"),
    one_of("state", MailState),
)
