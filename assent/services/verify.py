"""`assent ledger verify`: does the ledger explain the state? (R24)

Replays every event in id order to rebuild, per address, its statuses, wide opt-outs,
undeliverable flag, confirmation and erasure, then compares that with the state tables.
Also checks that each event's `old_status` is what the events before it left (no event lost
or invented), that ids run 1..last_id without a gap, and that every event has its outbox row
(R25). Everything is read in one snapshot, so writes going on meanwhile cause no false alarm.

Memory grows with the number of addresses that have state, not with the ledger's length.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.model import EventKind, EventState, Status
from assent.services.state import load_account
from assent.storage import tables as t
from assent.storage.db import Database

NOT_SPECIFIED = Status.NOT_SPECIFIED.value


@dataclass
class Replayed:
    """What the ledger says one address (channel + key, named by its hash) has now."""

    statuses: dict[int, str] = field(default_factory=dict)
    wides: set[int] = field(default_factory=set)
    undeliverable: bool = False
    confirmation: str | None = None


@dataclass
class Report:
    events: int = 0
    addresses: int = 0
    problems: list[str] = field(default_factory=list)
    #: problems beyond `limit` are counted, not listed
    more_problems: int = 0
    limit: int = 1000

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < self.limit:
            self.problems.append(problem)
        else:
            self.more_problems += 1


@contextmanager
def _snapshot(db: Database) -> Iterator[Connection]:
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # One snapshot for every statement, not one per statement.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def verify(db: Database, limit: int = 1000) -> Report:
    report = Report(limit=limit)
    with _snapshot(db) as conn:
        state, erased, names = _replay(conn, report)
        report.addresses = len(state)
        _compare(conn, report, state, erased, names)
        _check_outbox(conn, report)
    return report


def _replay(conn: Connection, report: Report) -> tuple[dict[str, Replayed], set[str], dict[str, str]]:
    e = t.ledger_events
    state: dict[str, Replayed] = {}
    erased: set[str] = set()
    names: dict[str, str] = {}  # hash → address, for messages (until erasure redacts it)
    expected = 1
    query = sa.select(
        e.c.id, e.c.address_hash, e.c.address, e.c.kind, e.c.business_unit_id,
        e.c.subscription_type_id, e.c.old_status, e.c.new_status,
    ).order_by(e.c.id)  # fmt: skip
    for ev in conn.execution_options(stream_results=True, yield_per=5000).execute(query):
        report.events += 1
        if ev.id != expected:
            report.add(f"ids {expected}..{ev.id - 1} are missing from the ledger")
        expected = ev.id + 1
        h = ev.address_hash
        if ev.address:
            names[h] = ev.address
        if ev.kind == EventKind.ERASURE:
            state.pop(h, None)
            erased.add(h)
            continue
        now = state.setdefault(h, Replayed())
        before: str | None
        if ev.kind == EventKind.STATUS:
            before = now.statuses.get(ev.subscription_type_id, NOT_SPECIFIED)
            now.statuses[ev.subscription_type_id] = ev.new_status
            if ev.new_status == Status.SUBSCRIBED.value:
                erased.discard(h)  # only the person can opt in an erased address, and that lifts it
        elif ev.kind == EventKind.WIDE_OPT_OUT:
            before = Status.UNSUBSCRIBED if ev.business_unit_id in now.wides else NOT_SPECIFIED
            if ev.new_status == Status.UNSUBSCRIBED:
                now.wides.add(ev.business_unit_id)
            else:
                now.wides.discard(ev.business_unit_id)
        elif ev.kind == EventKind.UNDELIVERABLE:
            before = EventState.UNDELIVERABLE if now.undeliverable else EventState.DELIVERABLE
            now.undeliverable = ev.new_status == EventState.UNDELIVERABLE
        elif ev.kind == EventKind.CONFIRMATION:
            before, now.confirmation = now.confirmation, ev.new_status
        else:
            continue  # a kind that changes no state this check knows
        if ev.old_status != before:
            report.add(f"event {ev.id} ({ev.kind}): old_status {ev.old_status}, but the events before leave {before}")
    last_id = conn.execute(sa.select(t.ledger_counter.c.last_id).where(t.ledger_counter.c.id == 1)).scalar_one()
    if last_id != expected - 1:
        report.add(f"ledger_counter says the last id is {last_id}, but the events end at {expected - 1}")
    return state, erased, names


def _compare(
    conn: Connection, report: Report, state: dict[str, Replayed], erased: set[str], names: dict[str, str]
) -> None:
    account = load_account(conn)
    s, w, a = t.subscription_statuses, t.wide_opt_outs, t.addresses
    seen_status: set[tuple[str, int]] = set()
    for row in conn.execution_options(stream_results=True, yield_per=5000).execute(sa.select(s)):
        h = account.address_hash(row.channel, row.address)
        expected = state.get(h, Replayed()).statuses.get(row.subscription_type_id, NOT_SPECIFIED)
        seen_status.add((h, row.subscription_type_id))
        if row.status != expected:
            report.add(
                f"status of {row.channel} {row.address}, type {row.subscription_type_id}: "
                f"the table says {row.status}, the ledger {expected}"
            )
    seen_wide: set[tuple[str, int]] = set()
    for row in conn.execution_options(stream_results=True, yield_per=5000).execute(sa.select(w)):
        h = account.address_hash(row.channel, row.address)
        seen_wide.add((h, row.business_unit_id))
        if row.business_unit_id not in state.get(h, Replayed()).wides:
            report.add(
                f"wide opt-out of {row.channel} {row.address} in business unit {row.business_unit_id}: "
                "in the table, not in the ledger"
            )
    seen_address: set[str] = set()
    query = sa.select(a.c.address, a.c.channel, a.c.undeliverable, a.c.confirmation)
    for row in conn.execution_options(stream_results=True, yield_per=5000).execute(query):
        h = account.address_hash(row.channel, row.address)
        seen_address.add(h)
        replayed = state.get(h, Replayed())
        if bool(row.undeliverable) != replayed.undeliverable:
            report.add(
                f"undeliverable of {row.channel} {row.address}: the table says {bool(row.undeliverable)}, "
                f"the ledger {replayed.undeliverable}"
            )
        if row.confirmation != replayed.confirmation:
            report.add(
                f"confirmation of {row.channel} {row.address}: the table says {row.confirmation}, "
                f"the ledger {replayed.confirmation}"
            )
    for h, replayed in state.items():
        name = names.get(h, f"address #{h}")
        for type_id, status in replayed.statuses.items():
            if status != NOT_SPECIFIED and (h, type_id) not in seen_status:
                report.add(f"status of {name}, type {type_id}: the ledger says {status}, the table has none")
        for bu in replayed.wides:
            if (h, bu) not in seen_wide:
                report.add(f"wide opt-out of {name} in business unit {bu}: in the ledger, not in the table")
        if (replayed.undeliverable or replayed.confirmation) and h not in seen_address:
            report.add(f"{name}: the ledger says undeliverable or confirmed, the table has no address row")
    table_erased = set(conn.execute(sa.select(t.erasures.c.address_hash)).scalars())
    for h in sorted(table_erased - erased):
        report.add(f"erasure #{h}: in the table, not in the ledger")
    for h in sorted(erased - table_erased):
        report.add(f"erasure #{h}: in the ledger, not in the table")


def _check_outbox(conn: Connection, report: Report) -> None:
    e, o = t.ledger_events, t.outbox
    missing = conn.execute(
        sa.select(e.c.id).outerjoin(o, o.c.event_id == e.c.id).where(o.c.event_id.is_(None)).order_by(e.c.id)
    ).scalars()
    for event_id in missing:
        report.add(f"event {event_id} has no outbox row")
    orphans = conn.execute(
        sa.select(o.c.event_id).outerjoin(e, e.c.id == o.c.event_id).where(e.c.id.is_(None)).order_by(o.c.event_id)
    ).scalars()
    for event_id in orphans:
        report.add(f"outbox row {event_id} has no event")
