"""Running an import (R21) chunk by chunk, and predicting it (R34) with the same code.

A confirmed import is a job whose targets are the file's line numbers: each chunk of ~1000
lines is one transaction that applies them and records one outcome per line (and per
status column), so a killed worker resumes at the first unfinished chunk and nothing is
applied twice. `apply_records` is also what the upload calls with `dry_run=True` to predict
the outcome counts: the same parsing, the same `Writer`, the same rules — nothing written.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.addresses import Address, InvalidAddress, normalize_many
from assent.domain.imports import (
    NO_ADDRESS_ON_CHANNEL,
    ImportKind,
    LineReason,
    address_field,
    judge_erased_line,
    parse_field,
    parse_flag,
    parse_status,
)
from assent.domain.model import Actor, Channel, Evidence, LegalBasis, Outcome, Source, Status
from assent.domain.workflows import ContactChange
from assent.jobs.queue import Job
from assent.jobs.worker import JobFailed, register
from assent.services import workflows
from assent.services.changes import Writer
from assent.services.ledger import RequestContext
from assent.services.state import Account, SubscriptionType, load_account, load_types
from assent.storage import tables as t
from assent.storage.db import Database, among, probe_by_key

KIND = "IMPORT"
MAX_ADDRESS_CHARS = 320
PHONE_CHANNELS = (Channel.SMS, Channel.WHATSAPP)


class Line(NamedTuple):
    """A stored record: its line number, its cells, or why it could not be read at all.
    (A tuple: a million of them are made at upload and again in the job.)"""

    line: int
    fields: list[str] | None
    problem: str | None = None


@dataclass
class Plan:
    """An import as the chunks need it: the mapping resolved to column positions."""

    id: str
    kind: ImportKind
    channel: Channel
    business_unit_id: int
    columns: list[str]
    evidence: Evidence
    actor_id: str | None
    address_index: int | None = None
    address_column: str = ""
    contact_fields: dict[str, int] = field(default_factory=dict)
    properties: list[tuple[int, str]] = field(default_factory=list)
    statuses: list[tuple[int, SubscriptionType]] = field(default_factory=list)
    wides: list[tuple[int, int]] = field(default_factory=list)


def wide_outcome_id(business_unit_id: int) -> int:
    """Outcome rows are keyed by (line, type id); a wide opt-out of unit u is -(u + 1)."""
    return -(business_unit_id + 1)


def evidence_of(stored: dict[str, Any]) -> Evidence:
    def basis(name: str) -> LegalBasis | None:
        return LegalBasis(stored[name]) if stored.get(name) else None

    return Evidence(
        legal_basis=basis("legal_basis"),
        legal_basis_explanation=stored.get("legal_basis_explanation"),
        processing_legal_basis=basis("processing_legal_basis"),
    )


def plan_of(
    import_id: str,
    kind: ImportKind,
    channel: Channel,
    business_unit_id: int,
    columns: Sequence[str],
    mapping: dict[str, str],
    types: dict[int, SubscriptionType],
    evidence: Evidence,
    actor_id: str | None,
) -> Plan:
    plan = Plan(import_id, kind, channel, business_unit_id, list(columns), evidence, actor_id)
    for index, column in enumerate(columns):
        spec = parse_field(kind, mapping.get(column, "ignore"))
        if spec is None or spec.kind == "ignore":
            continue
        if kind is ImportKind.OPT_OUTS:
            plan.address_index, plan.address_column = index, column
        elif spec.kind == "subscription" and spec.ident in types:
            plan.statuses.append((index, types[spec.ident]))
        elif spec.kind == "unsubscribe_all" and spec.ident is not None:
            plan.wides.append((index, spec.ident))
        elif spec.kind == "property" and spec.name:
            plan.properties.append((index, spec.name))
        elif spec.kind in ("email", "phone", "first_name", "last_name", "company"):
            plan.contact_fields[spec.kind] = index
    return plan


def load_plan(conn: Connection, import_id: str) -> Plan:
    row = conn.execute(sa.select(t.imports).where(t.imports.c.id == import_id)).first()
    if row is None:
        raise JobFailed(f"import {import_id} no longer exists")
    mapping = dict(row.mapping)
    type_ids = {spec.ident for v in mapping.values() if (spec := parse_field(ImportKind(row.kind), v)) and spec.ident}
    return plan_of(
        row.id,
        ImportKind(row.kind),
        Channel(row.channel),
        row.business_unit_id,
        list(row.columns),
        mapping,
        load_types(conn, type_ids) if type_ids else {},  # an opt-out list names no type
        evidence_of(dict(row.evidence)),
        row.confirmed_by or row.created_by,
    )


# --- applying lines -------------------------------------------------------------------------


def _row(
    line: int, type_id: int, address: str | None, outcome: Outcome | str, reason: object, column: str = ""
) -> dict[str, Any]:
    """An outcome row; `column` (which cell was wrong) is for the upload's error list only."""
    return {
        "seq": line,
        "subscription_type_id": type_id,
        "address": address,
        "outcome": str(outcome),
        "reason": str(reason) if reason else None,
        "column": column,
    }


def apply_records(
    db: Database,
    conn: Connection,
    account: Account,
    plan: Plan,
    lines: Sequence[Line],
    *,
    context: RequestContext,
    dry_run: bool = False,
    seen: set[int] | None = None,
) -> list[dict[str, Any]]:
    """Apply (or, with `dry_run`, only judge) one chunk of lines: outcome rows for each.

    `seen` (dry runs only) remembers the addresses of earlier chunks, which a dry run has not
    written: a repeated address is predicted UNCHANGED, as the real run will find it."""
    writer = Writer(db, conn, account, Actor(Source.IMPORT, plan.actor_id), plan.evidence, context, dry_run=dry_run)
    if plan.kind is ImportKind.OPT_OUTS:
        return _opt_outs(conn, account, plan, writer, lines, seen)
    return _contacts(conn, account, plan, writer, lines, seen, dry_run)


def _cell(fields: list[str], index: int | None) -> str:
    return fields[index].strip() if index is not None and index < len(fields) else ""


def _opt_outs(
    conn: Connection, account: Account, plan: Plan, writer: Writer, lines: Sequence[Line], seen: set[int] | None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    candidates: list[tuple[int, str]] = []
    for item in lines:
        if item.fields is None:
            rows.append(_row(item.line, 0, None, Outcome.REFUSED, item.problem))
            continue
        cell = _cell(item.fields, plan.address_index)
        if not cell:
            rows.append(_row(item.line, 0, None, Outcome.REFUSED, LineReason.NO_ADDRESS, plan.address_column))
        elif len(cell) > MAX_ADDRESS_CHARS:
            rows.append(_row(item.line, 0, cell[:200], Outcome.REFUSED, LineReason.FIELD_TOO_LONG, plan.address_column))
        else:
            candidates.append((item.line, cell))
    # The whole chunk at once, as decisions normalize their streams (R1: the same answers).
    keys, displays = normalize_many(plan.channel, [cell for _, cell in candidates], account.default_phone_region)
    usable: list[tuple[int, Address]] = []
    for (line, cell), key, display in zip(candidates, keys, displays, strict=True):
        if key is None:
            rows.append(_row(line, 0, cell, Outcome.REFUSED, LineReason.INVALID_ADDRESS, plan.address_column))
        else:
            usable.append((line, Address(plan.channel, key, display)))
    erased = writer.erased(plan.channel, {a.key for _, a in usable})
    todo: list[tuple[int, Address]] = []
    for line, address in usable:
        if address.key in erased:
            verdict = judge_erased_line()
            rows.append(_row(line, 0, None, verdict.outcome, verdict.reason))  # R22: not even the address
        elif seen is not None and hash(address.key) in seen:
            rows.append(_row(line, 0, address.display, Outcome.UNCHANGED, None))
        else:
            todo.append((line, address))
    if todo:
        results = writer.set_wide_opt_out(plan.channel, [a for _, a in todo], plan.business_unit_id)
        for (line, address), result in zip(todo, results, strict=True):
            rows.append(_row(line, 0, address.display, result.outcome, result.reason))
            if seen is not None:
                seen.add(hash(address.key))
    rows.sort(key=lambda r: r["seq"])
    return rows


@dataclass
class _ContactLine:
    line: int
    email: Address | None
    phone: Address | None
    values: dict[str, str]
    properties: dict[str, str]
    statuses: list[tuple[SubscriptionType, Status]]
    wides: list[tuple[int, bool]]


#: A file has a handful of distinct status and flag words in a million cells: each parsed once.
_status_word = functools.lru_cache(maxsize=1024)(parse_status)
_flag_word = functools.lru_cache(maxsize=1024)(parse_flag)


def _parse_contact(account: Account, plan: Plan, item: Line) -> _ContactLine | tuple[str, str, str]:
    """A line's requests, or (column, value, reason) for the first thing wrong with it."""
    assert item.fields is not None
    fields = item.fields
    columns = plan.columns
    if len(fields) != len(columns):
        return "", "", LineReason.RAGGED_LINE
    values: dict[str, str] = {}
    for name, index in plan.contact_fields.items():
        cell = _cell(fields, index)
        if len(cell) > (MAX_ADDRESS_CHARS if name in ("email", "phone") else 200):
            return columns[index], cell[:200], LineReason.FIELD_TOO_LONG
        if cell:
            values[name] = cell
    email = phone = None
    for name, channel in (("email", Channel.EMAIL), ("phone", Channel.SMS)):
        if name not in values:
            continue
        try:
            found = account.normalize_raw(channel, values[name])
        except InvalidAddress:
            return columns[plan.contact_fields[name]], values[name], LineReason.INVALID_ADDRESS
        email, phone = (found, phone) if name == "email" else (email, found)
    if email is None and phone is None:
        return "", "", LineReason.NO_ADDRESS
    properties = {}
    for index, name in plan.properties:
        cell = _cell(fields, index)
        if len(cell) > 2000:
            return columns[index], cell[:200], LineReason.FIELD_TOO_LONG
        if cell:
            properties[name] = cell
    statuses = []
    for index, type_ in plan.statuses:
        parsed = _status_word(_cell(fields, index))
        if isinstance(parsed, LineReason):
            return columns[index], _cell(fields, index)[:200], parsed
        if parsed is not None:
            statuses.append((type_, parsed))
    wides = []
    for index, bu in plan.wides:
        flag = _flag_word(_cell(fields, index))
        if isinstance(flag, LineReason):
            return columns[index], _cell(fields, index)[:200], flag
        if flag is not None:
            wides.append((bu, flag))
    return _ContactLine(item.line, email, phone, values, properties, statuses, wides)


def _contacts(
    conn: Connection,
    account: Account,
    plan: Plan,
    writer: Writer,
    lines: Sequence[Line],
    seen: set[int] | None,
    dry_run: bool,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    parsed: list[_ContactLine] = []
    for item in lines:
        if item.fields is None:
            rows.append(_row(item.line, 0, None, Outcome.REFUSED, item.problem))
            continue
        found = _parse_contact(account, plan, item)
        if isinstance(found, tuple):
            rows.append(_row(item.line, 0, found[1] or None, Outcome.REFUSED, found[2], found[0]))
        else:
            parsed.append(found)
    erased_email = writer.erased(Channel.EMAIL, {p.email.key for p in parsed if p.email})
    erased_phone = writer.erased(Channel.SMS, {p.phone.key for p in parsed if p.phone})
    live: list[_ContactLine] = []
    for p in parsed:
        if (p.email and p.email.key in erased_email) or (p.phone and p.phone.key in erased_phone):
            verdict = judge_erased_line()
            rows.append(_row(p.line, 0, None, verdict.outcome, verdict.reason))
        else:
            live.append(p)
    # Lock every address of the chunk first, in key order: the status and wide opt-out
    # calls below then take no new lock after the ledger counter (see jobs/worker.py).
    emails = [p.email for p in live if p.email]
    phones = [p.phone for p in live if p.phone]
    writer.touch(Channel.EMAIL, sorted(emails, key=lambda a: a.key))
    for channel in PHONE_CHANNELS:
        writer.touch(channel, [Address(channel, a.key, a.display) for a in sorted(phones, key=lambda a: a.key)])
    rows.extend(_upsert_contacts(writer.db, conn, live, seen, dry_run))
    rows.extend(_statuses(writer, live, {type_.channel for _, type_ in plan.statuses}))
    rows.extend(_wides(writer, live))
    rows.sort(key=lambda r: (r["seq"], r["subscription_type_id"]))
    return rows


def _upsert_contacts(
    db: Database, conn: Connection, lines: Sequence[_ContactLine], seen: set[int] | None, dry_run: bool
) -> list[dict[str, Any]]:
    """An existing contact (same email, else same phone) is updated, never duplicated."""
    c = t.contacts
    emails = sorted({p.email.key for p in lines if p.email})
    phones = sorted({p.phone.key for p in lines if p.phone})
    existing: dict[tuple[str, str], dict[str, Any]] = {}
    if emails:
        for r in conn.execute(sa.select(c).where(among(conn, c.c.email_key, emails)).order_by(c.c.id.desc())):
            existing[("email", r.email_key)] = dict(r._mapping)
    if phones:
        for r in conn.execute(sa.select(c).where(among(conn, c.c.phone, phones)).order_by(c.c.id.desc())):
            existing.setdefault(("phone", r.phone), dict(r._mapping))
    originals = {row["id"]: dict(row) for row in existing.values()}
    now = t.now()
    created: list[dict[str, Any]] = []
    dirty: dict[int, dict[str, Any]] = {}
    rows = []
    for p in lines:
        keys = [
            k for k in (("email", p.email.key) if p.email else None, ("phone", p.phone.key) if p.phone else None) if k
        ]
        contact = next((existing[k] for k in keys if k in existing), None)
        wanted = {
            **({"email": p.email.display, "email_key": p.email.key} if p.email else {}),
            **({"phone": p.phone.key} if p.phone else {}),
            **{k: v for k, v in p.values.items() if k in ("first_name", "last_name", "company")},
        }
        display = p.email.display if p.email else p.phone.display if p.phone else None
        if contact is None:
            if seen is not None and any(hash(k) in seen for k in keys):
                rows.append(_row(p.line, 0, display, Outcome.UNCHANGED, None))
                continue
            contact = {**wanted, "properties": dict(p.properties), "created_at": now, "updated_at": now}
            for k in keys:
                existing[k] = contact
                if seen is not None:
                    seen.add(hash(k))
            created.append(contact)
            rows.append(_row(p.line, 0, display, Outcome.CHANGED, None))
            continue
        merged = {**contact.get("properties", {}), **p.properties}
        changes: dict[str, Any] = {k: v for k, v in wanted.items() if contact.get(k) != v}
        if merged != (contact.get("properties") or {}):
            changes["properties"] = merged
        for k in keys:
            existing.setdefault(k, contact)
        if not changes:
            rows.append(_row(p.line, 0, display, Outcome.UNCHANGED, None))
            continue
        contact.update(changes)
        if "id" in contact:
            dirty[contact["id"]] = contact
        rows.append(_row(p.line, 0, display, Outcome.CHANGED, None))
    if not dry_run:
        triggered: list[ContactChange] = []
        if created:
            columns = ("email", "email_key", "phone", "first_name", "last_name", "company", "properties")
            inserted = _new_contact_ids(conn, len(created))
            db.bulk_insert(
                conn,
                t.contacts,
                [
                    {"id": cid, **{k: r.get(k) for k in columns}, "created_at": now, "updated_at": now}
                    for cid, r in zip(inserted, created, strict=True)
                ],
            )
            triggered.extend(ContactChange(cid, None, row) for cid, row in zip(inserted, created, strict=True))
        for contact_id, contact in dirty.items():
            values = {k: contact.get(k) for k in ("email", "email_key", "phone", "first_name", "last_name", "company")}
            conn.execute(
                sa.update(c)
                .where(c.c.id == contact_id)
                .values(**values, properties=contact["properties"], updated_at=now)
            )
            triggered.append(ContactChange(contact_id, originals.get(contact_id), contact))
        # Workflows triggered by these contacts are enrolled in this same transaction (R23).
        workflows.enroll_on_changes(conn, triggered)
    return rows


def _new_contact_ids(conn: Connection, count: int) -> list[int]:
    """Ids for `count` new contacts, so that they go in with one bulk insert (COPY) rather
    than an INSERT … RETURNING that SQLAlchemy renders and reads back row by row: on
    PostgreSQL from the id sequence, on SQLite after the largest id — what SQLite itself
    would give, and no one else inserts while this write transaction holds the write lock."""
    c = t.contacts
    if conn.dialect.name == "postgresql":
        found = conn.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence('contacts', 'id')) FROM generate_series(1, %(n)s)", {"n": count}
        )
        return sorted(int(cid) for (cid,) in found)
    last = int(conn.execute(sa.select(sa.func.max(c.c.id))).scalar() or 0)
    return list(range(last + 1, last + 1 + count))


def _statuses(writer: Writer, lines: Sequence[_ContactLine], channels: set[Channel]) -> list[dict[str, Any]]:
    """`channels`: those of the file's status columns (the others have nothing to do)."""
    rows: list[dict[str, Any]] = []
    for channel in (Channel.EMAIL, *PHONE_CHANNELS):
        if channel not in channels:
            continue
        requests: list[tuple[Address, list[tuple[SubscriptionType, Status]]]] = []
        owners: list[_ContactLine] = []
        for p in lines:
            wanted = [(type_, status) for type_, status in p.statuses if type_.channel is channel]
            if not wanted:
                continue
            source = p.email if channel is Channel.EMAIL else p.phone
            if source is None:
                rows.extend(_row(p.line, st.id, None, Outcome.REFUSED, NO_ADDRESS_ON_CHANNEL) for st, _ in wanted)
                continue
            address = source if source.channel is channel else Address(channel, source.key, source.display)
            requests.append((address, wanted))
            owners.append(p)
        if not requests:
            continue
        results = writer.change_statuses(channel, requests)
        for p, (address, _), per_type in zip(owners, requests, results, strict=True):
            rows.extend(_row(p.line, r.subscription_type_id, address.display, r.outcome, r.reason) for r in per_type)
    return rows


def _wides(writer: Writer, lines: Sequence[_ContactLine]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    groups: dict[tuple[int, bool], list[_ContactLine]] = {}
    for p in lines:
        for bu, flag in p.wides:
            groups.setdefault((bu, flag), []).append(p)
    channel = Channel.EMAIL
    for (bu, flag), members in sorted(groups.items()):
        with_address = [p for p in members if p.email]
        rows.extend(
            _row(p.line, wide_outcome_id(bu), None, Outcome.REFUSED, NO_ADDRESS_ON_CHANNEL)
            for p in members
            if not p.email
        )
        addresses = [Address(channel, p.email.key, p.email.display) for p in with_address if p.email]
        if not addresses:
            continue
        if flag:
            results = writer.set_wide_opt_out(channel, addresses, bu)
        else:
            results = writer.remove_wide_opt_out(channel, addresses, bu)
        rows.extend(
            _row(p.line, wide_outcome_id(bu), a.display, r.outcome, r.reason)
            for p, a, r in zip(with_address, addresses, results, strict=True)
        )
    return rows


# --- the job ---------------------------------------------------------------------------------


def lines_between(conn: Connection, import_id: str, after: int, through: int) -> list[Line]:
    """The stored lines numbered (after, through]."""
    ch = t.import_chunks
    found: list[Line] = []
    query = (
        sa.select(ch.c.records)
        .where(ch.c.import_id == import_id, ch.c.last_line > after, ch.c.first_line <= through)
        .order_by(ch.c.first_line)
    )
    for (records,) in conn.execute(query):
        for record in records:
            line = int(record[0])
            if after < line <= through:
                found.append(Line(line, record[1], record[2] if len(record) > 2 else None))
    return found


def apply_chunk(db: Database, conn: Connection, job: Job, after: int, through: int) -> list[dict[str, Any]]:
    plan = load_plan(conn, job.params["import_id"])
    account = load_account(conn)  # the policy as it is now (R12)
    lines = lines_between(conn, plan.id, after, through)
    if not lines:
        if through >= job.total:
            conn.execute(sa.delete(t.import_chunks).where(t.import_chunks.c.import_id == plan.id))
        return []
    context = RequestContext(None, None, job.id)
    probe_by_key(conn)
    rows = apply_records(db, conn, account, plan, lines, context=context)
    for row in rows:
        del row["column"]
    if through >= job.total:
        # The last chunk: the stored file goes with it (it holds every address and name of the
        # file; what the error report needs is in the outcomes and import_errors).
        conn.execute(sa.delete(t.import_chunks).where(t.import_chunks.c.import_id == plan.id))
    return rows


register(KIND, apply_chunk, ranged=True)

__all__ = ["KIND", "Line", "Plan", "address_field", "apply_records", "lines_between", "plan_of", "wide_outcome_id"]
