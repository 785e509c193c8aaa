"""Imports (R21, R34): upload a CSV file, see what it would do, confirm the row count, run.

- `create_import` reads the uploaded file twice from its spool: once to check it (UTF-8,
  a header, an address column, the size limit — a refusal stores nothing), then, in one
  write transaction, to store its records in chunks and predict every line's outcome with
  the job's own code in dry-run mode (`jobs/imports.apply_records`).
- `confirm_import` takes the row count the user saw (HubSpot asks the same) and queues the job.
- `cancel_import` drops an unconfirmed import's stored file.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.imports import (
    IGNORE,
    LINE_REASONS,
    ImportKind,
    ImportStatus,
    LineReason,
    address_field,
    auto_mapping,
    parse_field,
    summarize,
)
from assent.domain.model import Actor, Channel, Evidence, Source, Status
from assent.domain.rules import EVIDENCE_REASONS, judge_status_change
from assent.jobs import queue
from assent.jobs.imports import KIND, Line, Plan, apply_records, plan_of
from assent.services import imports as reading
from assent.services.errors import Collected, Conflict, Invalid
from assent.services.evidence import evidence_problem
from assent.services.import_files import FileRefused, LineProblem, Record, Scan, records, scan
from assent.services.ledger import RequestContext
from assent.services.state import Account, SubscriptionType, load_account, load_types, require_business_unit
from assent.storage import tables as t
from assent.storage.db import Database, probe_by_key

#: records per stored chunk
CHUNK = 1000
#: lines per step of the dry run: fewer, larger lookups (a job chunk on SQLite is as large)
PREDICT_STEP = 5000
SAMPLE_ROWS = 5
DEFAULT_MAX_BYTES = 1 << 30

__all__ = ["ImportRequest", "cancel_import", "confirm_import", "create_import", "remap_import"]


@dataclass
class ImportRequest:
    kind: ImportKind
    channel: Channel = Channel.EMAIL
    business_unit_id: int = 0
    mapping: dict[str, str] | None = None
    evidence: Evidence = field(default_factory=Evidence)
    file_name: str | None = None
    encoding: str = "utf-8"
    max_bytes: int = DEFAULT_MAX_BYTES


def new_import_id() -> str:
    return f"imp_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"


def create_import(db: Database, file: BinaryIO, request: ImportRequest, *, actor_id: str | None) -> dict[str, Any]:
    """Check, store and predict an uploaded file; nothing is changed until it is confirmed."""
    # The records are counted as they are stored (one pass over them, not two).
    found = scan(file, encoding=request.encoding, max_bytes=request.max_bytes, count=False)
    mapping = _mapping(request, found)
    with db.write() as conn:
        account = load_account(conn)
        require_business_unit(conn, request.business_unit_id)
        types = load_types(conn, {s.ident for v in mapping.values() if (s := parse_field(request.kind, v)) and s.ident})
        problems = _header_problems(conn, request, found, mapping, types)
        import_id = new_import_id()
        at = t.now()
        conn.execute(
            t.imports.insert().values(
                id=import_id,
                kind=request.kind.value,
                status=ImportStatus.AWAITING_CONFIRMATION.value,
                channel=request.channel.value,
                business_unit_id=request.business_unit_id,
                file_name=(request.file_name or "")[:300] or None,
                delimiter=found.delimiter,
                columns=found.columns,
                mapping=mapping,
                sample=[],
                row_count=0,  # counted as the records are stored, below
                last_line=found.last_line,
                predicted={},
                evidence=_stored_evidence(request.evidence),
                created_by=actor_id,
                created_at=at,
            )
        )
        plan = plan_of(
            import_id,
            request.kind,
            request.channel,
            request.business_unit_id,
            found.columns,
            mapping,
            types,
            request.evidence,
            actor_id,
        )
        predicted, sample = _store_and_predict(db, conn, account, plan, request, _lines(file, found), found, problems)
        conn.execute(
            sa.update(t.imports)
            .where(t.imports.c.id == import_id)
            .values(predicted=predicted, sample=sample, row_count=found.rows, last_line=found.last_line)
        )
        return reading.view(conn, import_id)


def remap_import(
    db: Database, import_id: str, mapping: dict[str, str], evidence: Evidence, *, actor_id: str | None
) -> dict[str, Any]:
    """Change an unconfirmed import's mapping (and legal basis): the stored file is checked
    and predicted again exactly as at upload, with the same id; the file is not sent again."""
    with db.write() as conn:
        current = reading.view(conn, import_id)
        if current["status"] != ImportStatus.AWAITING_CONFIRMATION:
            raise Conflict("IMPORT_NOT_AWAITING_CONFIRMATION", f"import {import_id} is {current['status']}")
        request = ImportRequest(
            kind=ImportKind(current["kind"]),
            channel=Channel(current["channel"]),
            business_unit_id=current["business_unit_id"],
            mapping=mapping,
            evidence=evidence,
        )
        stored = conn.execute(sa.select(t.imports.c.delimiter).where(t.imports.c.id == import_id)).one()
        found = Scan(stored.delimiter, current["columns"], "utf-8", rows=current["row_count"])
        chosen = _mapping(request, found)
        account = load_account(conn)
        kind = request.kind
        types = load_types(conn, {s.ident for v in chosen.values() if (s := parse_field(kind, v)) and s.ident})
        problems = _header_problems(conn, request, found, chosen, types)
        plan = plan_of(
            import_id, kind, request.channel, request.business_unit_id, found.columns, chosen, types, evidence, actor_id
        )
        conn.execute(sa.delete(t.import_errors).where(t.import_errors.c.import_id == import_id))
        predicted, _ = _store_and_predict(
            db, conn, account, plan, request, _stored_lines(conn, import_id), found, problems, store=False
        )
        conn.execute(
            sa.update(t.imports)
            .where(t.imports.c.id == import_id)
            .values(mapping=chosen, predicted=predicted, evidence=_stored_evidence(evidence))
        )
        return reading.view(conn, import_id)


def _stored_lines(conn: Connection, import_id: str) -> Iterator[Line]:
    """The stored file's lines in order, one chunk row in memory at a time."""
    ch = t.import_chunks
    after = 0
    while True:
        row = conn.execute(
            sa.select(ch.c.first_line, ch.c.records)
            .where(ch.c.import_id == import_id, ch.c.first_line > after)
            .order_by(ch.c.first_line)
            .limit(1)
        ).first()
        if row is None:
            return
        after = row.first_line
        for record in row.records:
            yield Line(int(record[0]), record[1], record[2] if len(record) > 2 else None)


def _mapping(request: ImportRequest, found: Scan) -> dict[str, str]:
    mapping = auto_mapping(request.kind, request.channel, found.columns)
    problems = Collected()
    for column, target in (request.mapping or {}).items():
        if column not in mapping:
            problems.add(f"mapping.{column}", f"the file has no column {column!r}", "UNKNOWN_COLUMN")
        elif parse_field(request.kind, str(target)) is None:
            problems.add(f"mapping.{column}", f"{target!r} is not a field an import can fill", "UNKNOWN_FIELD")
        else:
            mapping[column] = str(target)
    problems.raise_if_any()
    targets = [v for v in mapping.values() if v != IGNORE]
    for name in ("email", "phone"):
        if targets.count(name) > 1:
            raise Invalid("mapping", f"two columns are mapped to {name}", "DUPLICATE_FIELD")
    if request.kind is ImportKind.OPT_OUTS:
        wanted = address_field(request.channel)
        if wanted not in targets:
            raise FileRefused(
                f"no address column: name a column {wanted!r}, have only one column, or map one to {wanted!r}",
                "NO_ADDRESS_COLUMN",
            )
    elif "email" not in targets and "phone" not in targets:
        raise FileRefused(
            "no address column: a contacts file needs an 'email' or a 'phone' column", "NO_ADDRESS_COLUMN"
        )
    return mapping


def _header_problems(
    conn: Connection,
    request: ImportRequest,
    found: Scan,
    mapping: dict[str, str],
    types: dict[int, SubscriptionType],
) -> list[LineProblem]:
    """Status columns naming no type, a type whose channel the file has no address for, or no
    unit: reported on line 1 and ignored (the rest of the file still goes in)."""
    problems = []
    has = set(mapping.values())
    units = set(conn.execute(sa.select(t.business_units.c.id)).scalars())
    for column in found.columns:
        spec = parse_field(request.kind, mapping[column])
        if spec is None:
            continue
        reason = None
        if spec.kind == "subscription":
            type_ = types.get(spec.ident or 0)
            if type_ is None:
                reason = LineReason.UNKNOWN_SUBSCRIPTION_TYPE
            elif address_field(type_.channel) not in has:
                reason = LineReason.WRONG_CHANNEL
        elif spec.kind == "unsubscribe_all" and spec.ident not in units:
            reason = LineReason.UNKNOWN_BUSINESS_UNIT
        elif spec.kind == "unsubscribe_all" and "email" not in has:
            reason = LineReason.WRONG_CHANNEL
        if reason is not None:
            problems.append(LineProblem(1, column, column, reason))
            mapping[column] = IGNORE
    return problems


def _stored_evidence(evidence: Evidence) -> dict[str, Any]:
    return {
        "legal_basis": evidence.legal_basis.value if evidence.legal_basis else None,
        "legal_basis_explanation": evidence.legal_basis_explanation,
        "processing_legal_basis": evidence.processing_legal_basis.value if evidence.processing_legal_basis else None,
    }


def _lines(file: BinaryIO, found: Scan) -> Iterator[Line]:
    """The file's records as stored lines, counted into `found` (rows, last line)."""
    for item in records(file, found.encoding, found.delimiter):
        if isinstance(item, Record):
            found.add(item.line, record=True)
            yield Line(item.line, item.fields)
        elif isinstance(item, LineProblem):
            found.add(item.line, record=False)
            yield Line(item.line, None, item.reason.value)


def _store_and_predict(
    db: Database,
    conn: Connection,
    account: Account,
    plan: Plan,
    request: ImportRequest,
    lines: Iterator[Line],
    found: Scan,
    header_problems: list[LineProblem],
    *,
    store: bool = True,
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    probe_by_key(conn)  # the dry run's lookups (5,000 keys a step)
    predicted = queue.empty_counts()
    sample: list[dict[str, str]] = []
    errors = [
        {"import_id": plan.id, "line": p.line, "column": p.column[:200], "value": p.value, "reason": p.reason.value}
        for p in header_problems
    ]
    seen: set[int] = set()
    checked_evidence = False
    context = RequestContext(None, None, None)
    batch: list[Line] = []  # the lines of the chunk being stored
    pending: list[Line] = []  # and those not yet predicted

    def store_chunk() -> None:
        if batch and store:
            db.bulk_insert(
                conn,
                t.import_chunks,
                [
                    {
                        "import_id": plan.id,
                        "first_line": batch[0].line,
                        "last_line": batch[-1].line,
                        "records": [[x.line, x.fields, x.problem] if x.problem else [x.line, x.fields] for x in batch],
                    }
                ],
            )
        batch.clear()

    def predict() -> None:
        nonlocal checked_evidence
        if not pending:
            return
        if not checked_evidence and _subscribes(plan, pending):
            _require_evidence(account, request.evidence)
            checked_evidence = True
        rows = apply_records(db, conn, account, plan, pending, context=context, dry_run=True, seen=seen)
        nonlocal predicted
        predicted = queue.add_counts(predicted, rows)
        for row in rows:
            if row["outcome"] == "REFUSED" and row["reason"] in LINE_REASONS:
                errors.append(
                    {
                        "import_id": plan.id,
                        "line": row["seq"],
                        "column": (row["column"] or "")[:200],
                        "value": (row["address"] or "")[:200] or None,
                        "reason": row["reason"],
                    }
                )
        pending.clear()

    for line in lines:
        if len(sample) < SAMPLE_ROWS and line.fields is not None:
            sample.append(
                {c: (line.fields[i] if i < len(line.fields) else "")[:200] for i, c in enumerate(found.columns)}
            )
        batch.append(line)
        pending.append(line)
        if len(batch) >= CHUNK:
            store_chunk()
        if len(pending) >= PREDICT_STEP:
            predict()
    store_chunk()
    predict()
    unique = {(e["line"], e["column"]): e for e in errors}
    db.bulk_insert(conn, t.import_errors, list(unique.values()))
    return summarize(predicted), sample


def _subscribes(plan: Plan, batch: list[Line]) -> bool:
    for line in batch:
        if line.fields is None:
            continue
        for index, _ in plan.statuses:
            if index < len(line.fields) and line.fields[index].strip().lower().replace(" ", "_") in (
                "subscribed",
                "opt_in",
                "opted_in",
            ):
                return True
    return False


def _require_evidence(account: Account, evidence: Evidence) -> None:
    """R6: in data privacy mode a file that subscribes anyone needs the legal-basis fields —
    asked of the rules, for the opt-in every such line would need, before anything is stored."""
    verdict = judge_status_change(
        current=Status.NOT_SPECIFIED,
        target=Status.SUBSCRIBED,
        actor=Actor(Source.IMPORT),
        evidence=evidence,
        policy=account.policy,
        wide_opt_out=None,
        has_processing_basis=False,
    )
    if verdict.reason in EVIDENCE_REASONS:
        raise evidence_problem(verdict.reason.value if verdict.reason else "")


def confirm_import(db: Database, import_id: str, row_count: int, *, actor_id: str | None) -> dict[str, Any]:
    """Queue a checked import as a job, once the user has confirmed how many rows it has."""
    with db.write() as conn:
        current = reading.view(conn, import_id)
        if current["status"] != ImportStatus.AWAITING_CONFIRMATION:
            raise Conflict("IMPORT_NOT_AWAITING_CONFIRMATION", f"import {import_id} is {current['status']}")
        if row_count != current["row_count"]:
            raise Conflict(
                "ROW_COUNT_MISMATCH",
                f"the file has {current['row_count']:,} rows, not {row_count:,}: check the file and confirm its count",
                extra={"row_count": current["row_count"]},
            )
        row = conn.execute(sa.select(t.imports.c.last_line).where(t.imports.c.id == import_id)).one()
        at = t.now()
        job_id = queue.insert_job(conn, KIND, {"import_id": import_id}, actor_id, at)
        queue.set_total(conn, job_id, row.last_line)
        conn.execute(
            sa.update(t.imports)
            .where(t.imports.c.id == import_id)
            .values(status=ImportStatus.QUEUED.value, confirmed_by=actor_id, confirmed_at=at, job_id=job_id)
        )
        return reading.view(conn, import_id)


def cancel_import(db: Database, import_id: str) -> dict[str, Any]:
    """Cancel an import awaiting confirmation and discard its stored file."""
    with db.write() as conn:
        current = reading.view(conn, import_id)
        if current["status"] != ImportStatus.AWAITING_CONFIRMATION:
            raise Conflict("IMPORT_NOT_AWAITING_CONFIRMATION", f"import {import_id} is {current['status']}: too late")
        conn.execute(sa.delete(t.import_chunks).where(t.import_chunks.c.import_id == import_id))
        conn.execute(sa.delete(t.import_errors).where(t.import_errors.c.import_id == import_id))
        conn.execute(
            sa.update(t.imports).where(t.imports.c.id == import_id).values(status=ImportStatus.CANCELLED.value)
        )
        return reading.view(conn, import_id)
