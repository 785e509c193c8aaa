"""Where each table would live on a sharded PostgreSQL (Citus): the one declaration.

Nothing here runs in production today; `docs/SCALING.md` is written from this map, and
`tests/scale/test_distribution.py` checks every statement the application sends against it
(each write on a distributed table names its distribution column, each join between
distributed tables equates their distribution columns).

- DISTRIBUTED: sharded by a column, each in a co-location group. Tables of one group put
  the rows of one value on one node, so joins that equate the column run on that node.
- REFERENCE: small, rarely written, copied to every node, so any shard may join with them.
- LOCAL: stay on the coordinator (a plain PostgreSQL table there): queues, admin state and
  the ledger counter, never joined with a shard except through the coordinator.
"""

from __future__ import annotations

from dataclasses import dataclass

from assent.storage import tables as t


@dataclass(frozen=True)
class Distributed:
    column: str
    #: tables of one group are co-located (create_distributed_table(colocate_with=…))
    group: str
    why: str


#: The per-address state (R2) is keyed by the address; what names an address only by its
#: keyed hash (the ledger, erasures, links) by the hash. The two groups hold different
#: values, so a statement must never join one group with the other (the test checks it).
DISTRIBUTED: dict[str, Distributed] = {
    "addresses": Distributed("address", "address", "one row per address; every change locks it first"),
    "subscription_statuses": Distributed("address", "address", "the state decisions read, by address"),
    "wide_opt_outs": Distributed("address", "address", "per address, channel and business unit"),
    "ledger_events": Distributed(
        "address_hash", "address_hash", "the history grows without bound; one address's events on one node"
    ),
    "link_subjects": Distributed("address_hash", "address_hash", "a link names the address by its hash"),
    "inbound_events": Distributed(
        "event_id", "inbound_event", "provider events are looked up by their own id; the hash may be null"
    ),
    "sms_messages": Distributed(
        "address_hash", "address_hash", "inbound texts, deduplicated per address by the message's sid"
    ),
}

#: Joined with the shards by every decision and change, changed by an administrator.
REFERENCE: dict[str, str] = {
    "account_settings": "one row, read by every transaction (policy, hash key)",
    "business_units": "a handful of rows; subscription_types refers to it",
    "subscription_types": "a few hundred rows at most; subscription_statuses has a foreign key to it",
    "form_keys": "one per business unit, with a foreign key to it",
    "erasures": (
        "few rows (one per erasure request), written rarely, read by every decision together with the "
        "address-keyed state: as a reference table every shard has it, so that read is local. It is keyed "
        "by the hash, which no address-keyed shard could be co-located with"
    ),
}

#: On the coordinator. Written often or queue-like, and never joined with a shard's rows
#: except as noted in the test's allowlist.
LOCAL: dict[str, str] = {
    "ledger_counter": "the single row whose lock orders commits; see SCALING.md",
    "outbox": "written with the counter, in commit order: the feed's order lives next to the counter",
    "contacts": "keyed by id, not by address (an address may be on no contact or on several)",
    "api_keys": "authentication, read per request",
    "idempotency_keys": "per API principal",
    "jobs": "the work queue: claimed by compare-and-set on the coordinator",
    "job_targets": "a job's input rows, by job",
    "job_outcomes": "a job's report, by job",
    "users": "admin UI",
    "admin_sessions": "admin UI",
    "login_throttle": "admin UI",
    "rate_limits": "public pages' counters",
    "mail_outbox": "local mail when no SMTP server is configured",
    "inbound_tokens": "webhook replay protection",
    "imports": "uploaded files and their state",
    "import_chunks": "an import's records, by import",
    "import_errors": "an import's problems, by import",
    "workflows": "a handful of definitions",
    "audit_events": "account changes (settings, types, units, users, keys): few, by id",
    "ledger_checkpoints": "signed heads of the chain, one an hour: they sign the coordinator's order",
    "ledger_signing_keys": "the Ed25519 key that signs checkpoints and receipts",
    "webhook_endpoints": "a handful of receivers",
    "webhook_deliveries": "one row per endpoint and event, claimed by compare-and-set like jobs",
    "webhook_attempts": "the delivery log, by endpoint",
    "mail_queue": "mail to send, claimed by compare-and-set like jobs",
    "workflow_runs": "a workflow's run log, by workflow",
    "workflow_run_actions": "a run's actions",
}


def kind_of(table: str) -> str:
    if table in DISTRIBUTED:
        return "distributed"
    if table in REFERENCE:
        return "reference"
    if table in LOCAL:
        return "local"
    raise KeyError(f"table {table!r} is not declared in assent/storage/distribution.py")


def unclassified() -> list[str]:
    """Tables of the schema that this map does not place (a new table must be placed)."""
    known = DISTRIBUTED.keys() | REFERENCE.keys() | LOCAL.keys()
    return sorted(name for name in t.metadata.tables if name not in known)


def citus_ddl() -> list[str]:
    """The statements that would turn a migrated schema into this layout on Citus."""
    statements = [f"SELECT create_reference_table('{name}');" for name in REFERENCE]
    first: dict[str, str] = {}
    for name, spec in DISTRIBUTED.items():
        colocate = f", colocate_with => '{first[spec.group]}'" if spec.group in first else ""
        statements.append(f"SELECT create_distributed_table('{name}', '{spec.column}'{colocate});")
        first.setdefault(spec.group, name)
    return statements
