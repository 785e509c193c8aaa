"""`assent ledger verify`: is the ledger intact, and does it explain the state? (R24)

One pass over every event in id order, through a server-side cursor:
- the hash chain (services/chain.py): each event's hash, its link to the event before, the
  keyed digests of its unredacted personal fields, and — given a signed checkpoint — that
  the ledger still holds what was signed; the first bad event is named with what is wrong
  (edited, deleted, inserted, reordered, truncated, bad_signature);
- the replay: per address, its statuses, wide opt-outs, undeliverable flag, confirmation and
  erasure, then compared with the state tables; each event's `old_status` must be what the
  events before it left, and every event must have its outbox row (R25).
Everything is read in one snapshot, so writes going on meanwhile cause no false alarm.
With `from_id`, only the chain from that event on is checked (the replay needs it all).
A large ledger (`PARALLEL_FROM` events) is read twice at once: a second process checks the
chain while this one replays and compares with the state tables, each reading what it
needs, in the same snapshot; the problems are listed as the check in one process lists them.

Memory grows with the number of facts the ledger leaves standing (one map entry each), not
with the ledger's length.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.model import EventKind, EventState, Status
from assent.services import chain
from assent.services.state import Account, load_account
from assent.storage import tables as t
from assent.storage.db import Database
from assent.verifier_standalone import (
    BAD_SIGNATURE,
    INSERTED,
    ChainChecker,
    ChainResult,
    Checkpoint,
    Finding,
    signature_ok,
)

NOT_SPECIFIED = Status.NOT_SPECIFIED.value
#: from this many events on, the full check runs the chain and the replay side by side
PARALLEL_FROM = 200_000


@dataclass
class Report:
    events: int = 0
    addresses: int = 0
    problems: list[str] = field(default_factory=list)
    #: problems beyond `limit` are counted, not listed
    more_problems: int = 0
    limit: int = 1000
    #: the chain's check: counts, findings (also in `problems`), the checkpoint compared with
    chain: ChainResult | None = None
    #: False when only the chain was checked (`from_id`)
    replayed: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems and not self.more_problems

    @property
    def first(self) -> Finding | None:
        """The first bad event and what is wrong with it."""
        return self.chain.first if self.chain is not None else None

    @property
    def listing(self) -> bool:
        """False once `limit` problems are listed: further ones are only counted."""
        return len(self.problems) < self.limit

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


def verify(
    db: Database,
    limit: int = 1000,
    *,
    checkpoint: Checkpoint | None = None,
    public_key_pem: str | None = None,
    from_id: int = 1,
    parallel_from: int = PARALLEL_FROM,
) -> Report:
    """`checkpoint` is compared with the ledger once its signature holds for `public_key_pem`.
    From `parallel_from` events on (and with more than one CPU), a second process checks the
    chain in the same snapshot while this one replays."""
    report = Report(limit=limit, replayed=from_id <= 1)
    bad_signature: Finding | None = None
    if checkpoint is not None and (public_key_pem is None or not signature_ok(checkpoint.as_dict(), public_key_pem)):
        bad_signature = Finding(
            checkpoint.last_event_id,
            BAD_SIGNATURE,
            f"the checkpoint of {checkpoint.at} is not signed by the ledger's key",
        )
        checkpoint = None
    with _snapshot(db) as conn, _without_cycle_collection():
        #: the comparison's and the outbox's problems, when found before the chain's
        later: Report | None = None
        if report.replayed and _last_id(conn) >= parallel_from and (os.cpu_count() or 1) > 1:
            replayed, report.chain, later = _replay_beside_the_chain(db, conn, report, checkpoint, limit)
        elif report.replayed:
            check = chain.checker(conn, checkpoint=checkpoint, limit=limit)
            replayed = _replay(conn, report, check)
            report.chain = check.finish()
        else:
            report.chain = chain.verify_chain(conn, from_id=from_id, checkpoint=checkpoint, limit=limit)
        report.events = report.chain.events
        if bad_signature is not None:
            report.chain.findings.insert(0, bad_signature)
            report.chain.findings.sort(key=lambda f: f.event_id)
        _check_head(conn, report.chain)
        chain_problems = [str(f) for f in report.chain.findings]
        report.problems[:0] = chain_problems[:limit]
        report.more_problems += report.chain.more_findings + max(0, len(chain_problems) - limit)
        if report.replayed:
            report.addresses = len(replayed.addresses)
            if later is None:
                _compare(conn, report, replayed)
                _check_outbox(conn, report)
            else:
                # listed where they would have been found after the chain's: while fewer
                # than `limit` are listed, in the order found; the rest counted
                room = max(0, limit - len(report.problems))
                report.problems.extend(later.problems[:room])
                report.more_problems += later.more_problems + max(0, len(later.problems) - room)
    return report


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """The replay keeps a million small tuples to the end; the cycle collector would walk
    them again and again as more are made (a tenth of the replaying process's CPU at 1M
    events). What the check makes holds no cycles, so reference counting alone frees it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_COUNTER = sa.select(t.ledger_counter.c.last_id, t.ledger_counter.c.last_hash).where(t.ledger_counter.c.id == 1)


def _last_id(conn: Connection) -> int:
    return int(conn.execute(_COUNTER).one().last_id)


def _replay_beside_the_chain(
    db: Database, conn: Connection, report: Report, checkpoint: Checkpoint | None, limit: int
) -> tuple[Replayed, ChainResult, Report]:
    """The chain checked by a second process while this one replays and compares the
    replay with the state tables and the outbox (their problems in a report of their own,
    returned; `verify` lists them after the chain's): the two halves of the work each take
    a core. Both read the same snapshot: on PostgreSQL the child takes this
    transaction's (`pg_export_snapshot`); SQLite has no such thing, so the child's snapshot
    counts as the same when the counter row (last id and the chain's head, which every
    append changes) reads the same in both — otherwise the chain is checked here again."""
    snapshot = None
    if conn.dialect.name == "postgresql":
        snapshot = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
    url = db.url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
        aside = pool.submit(_chain_aside, url, snapshot, checkpoint, limit)
        replayed = _replay(conn, report, None)
        later = Report(limit=limit)
        _compare(conn, later, replayed)
        _check_outbox(conn, later)
        result, counter = aside.result()
    if counter != tuple(conn.execute(_COUNTER).one()):
        result = chain.verify_chain(conn, checkpoint=checkpoint, limit=limit)
    return replayed, result, later


def _chain_aside(
    url: str, snapshot: str | None, checkpoint: Checkpoint | None, limit: int
) -> tuple[ChainResult, tuple[Any, ...]]:
    """In the second process: the chain alone, in the snapshot `snapshot` (PostgreSQL), and
    the counter row as this snapshot reads it."""
    db = Database(url, pool_size=1)
    try:
        with _snapshot(db) as conn:
            if snapshot is not None:
                conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            counter = tuple(conn.execute(_COUNTER).one())
            return chain.verify_chain(conn, checkpoint=checkpoint, limit=limit), counter
    finally:
        db.dispose()


def _check_head(conn: Connection, result: ChainResult) -> None:
    """Events beyond the counter's last id were not appended by Assent (which takes ids
    from it); a head other than the last event's hash means the chain was cut or rewritten."""
    last_id, last_hash = conn.execute(
        sa.select(t.ledger_counter.c.last_id, t.ledger_counter.c.last_hash).where(t.ledger_counter.c.id == 1)
    ).one()
    already = {(f.event_id, f.kind) for f in result.findings}
    if result.last_id is not None and result.last_id > last_id:
        if (last_id + 1, INSERTED) not in already:
            result.findings.append(
                Finding(last_id + 1, INSERTED, f"events after id {last_id}, the last Assent handed out, were added")
            )
            result.findings.sort(key=lambda f: f.event_id)
    elif result.last_id == last_id and last_hash not in (None, result.last_hash):
        result.findings.append(
            Finding(last_id, "edited", f"the chain's head is {last_hash}, but the last event's hash {result.last_hash}")
        )
        result.findings.sort(key=lambda f: f.event_id)


@dataclass(slots=True)
class Replayed:
    """What the ledger says the addresses (channel + key, named by their hash) have now, in
    flat maps rather than an object per address (memory: one entry per stored fact)."""

    #: (hash, subscription type id) → status
    statuses: dict[tuple[str, int], str] = field(default_factory=dict)
    #: (hash, business unit id) of each wide opt-out in force
    wides: set[tuple[str, int]] = field(default_factory=set)
    #: hash → [undeliverable, confirmation], for addresses with such an event
    facts: dict[str, list[Any]] = field(default_factory=dict)
    #: every address with an event since its last erasure
    addresses: set[str] = field(default_factory=set)
    erased: set[str] = field(default_factory=set)
    #: the type and business unit ids the ledger names (what an erasure may have to clear)
    type_ids: set[int] = field(default_factory=set)
    business_unit_ids: set[int] = field(default_factory=set)

    def forget(self, h: str) -> None:
        """An erasure: the address's state goes."""
        self.addresses.discard(h)
        for type_id in self.type_ids:
            self.statuses.pop((h, type_id), None)
        for bu in self.business_unit_ids:
            self.wides.discard((h, bu))
        self.facts.pop(h, None)


#: what the replay reads of each event when the chain is checked elsewhere
REPLAY_COLUMNS = ("id", "address_hash", "kind", "new_status", "old_status", "subscription_type_id", "business_unit_id")


def _replay(conn: Connection, report: Report, check: ChainChecker | None) -> Replayed:
    """Replay every event (and hand each batch to `check`, when given: one read for both)."""
    found_state = Replayed()
    statuses, wides, facts, addresses, erased = (
        found_state.statuses, found_state.wides, found_state.facts, found_state.addresses, found_state.erased,
    )  # fmt: skip
    type_ids, bu_ids = found_state.type_ids, found_state.business_unit_ids
    last = 0
    columns: tuple[str, ...]
    if check is None:
        columns = REPLAY_COLUMNS
        found = chain.scan(conn, f"SELECT {', '.join(columns)} FROM ledger_events ORDER BY id")
    else:
        columns, found = chain.batches(conn)
    i_id, i_hash, i_kind, i_new, i_old, i_type, i_bu = (
        columns.index(name)
        for name in (
            "id", "address_hash", "kind", "new_status", "old_status", "subscription_type_id", "business_unit_id",
        )
    )  # fmt: skip
    erasure, status, wide, undeliverable, confirmation = (
        EventKind.ERASURE.value, EventKind.STATUS.value, EventKind.WIDE_OPT_OUT.value,
        EventKind.UNDELIVERABLE.value, EventKind.CONFIRMATION.value,
    )  # fmt: skip
    subscribed, unsubscribed = Status.SUBSCRIBED.value, Status.UNSUBSCRIBED.value
    undeliverable_state, deliverable_state = EventState.UNDELIVERABLE.value, EventState.DELIVERABLE.value
    add_address, add_wide, drop_wide = addresses.add, wides.add, wides.discard
    for batch in found:
        if check is not None:
            check.feed_rows(batch, columns)
        # what an erasure in this batch may have to clear (a superset does no harm)
        type_ids.update({ev[i_type] for ev in batch})
        bu_ids.update({ev[i_bu] for ev in batch})
        for ev in batch:
            h = ev[i_hash]
            kind = ev[i_kind]
            if kind == erasure:
                found_state.forget(h)
                erased.add(h)
                continue
            add_address(h)
            before: str | None
            new_status = ev[i_new]
            if kind == status:
                key = (h, ev[i_type])
                before = statuses.get(key, NOT_SPECIFIED)
                statuses[key] = new_status
                if new_status == subscribed:
                    erased.discard(h)  # only the person can opt in an erased address, and that lifts it
            elif kind == wide:
                key = (h, ev[i_bu])
                if key in wides:
                    before = unsubscribed
                    if new_status != unsubscribed:
                        drop_wide(key)
                else:
                    before = NOT_SPECIFIED
                    if new_status == unsubscribed:
                        add_wide(key)
            elif kind == undeliverable:
                fact = facts.get(h)
                if fact is None:
                    fact = facts[h] = [False, None]
                before = undeliverable_state if fact[0] else deliverable_state
                fact[0] = new_status == undeliverable_state
            elif kind == confirmation:
                fact = facts.get(h)
                if fact is None:
                    fact = facts[h] = [False, None]
                before, fact[1] = fact[1], new_status
            else:
                continue  # a kind that changes no state this check knows
            if ev[i_old] != before:
                report.add(f"event {ev[i_id]} ({kind}): old_status {ev[i_old]}, but the events before leave {before}")
        if batch:
            last = batch[-1][i_id]
    last_id = conn.execute(sa.select(t.ledger_counter.c.last_id).where(t.ledger_counter.c.id == 1)).scalar_one()
    if last_id != last:
        report.add(f"ledger_counter says the last id is {last_id}, but the events end at {last}")
    return found_state


def _compare(conn: Connection, report: Report, replayed: Replayed) -> None:
    """The state tables against the replay: each table row takes its replayed fact out of
    the maps, so what is left afterwards is in the ledger, not in the tables."""
    account = load_account(conn)
    hash_of = _address_hasher(account)
    statuses, wides, facts = replayed.statuses, replayed.wides, replayed.facts
    # Each table in key order: one address's rows come together, so it is hashed once.
    query = (
        "SELECT channel, address, subscription_type_id, status FROM subscription_statuses"
        " ORDER BY address, subscription_type_id"
    )
    pop_status = statuses.pop
    for batch in chain.scan(conn, query):
        for channel, address, type_id, status in batch:
            expected = pop_status((hash_of(channel, address), type_id), NOT_SPECIFIED)
            if status == expected:
                continue
            if report.listing:
                report.add(
                    f"status of {channel} {address}, type {type_id}: the table says {status}, the ledger {expected}"
                )
            else:
                report.more_problems += 1
    query = "SELECT channel, address, business_unit_id FROM wide_opt_outs ORDER BY address, channel, business_unit_id"
    for batch in chain.scan(conn, query):
        for channel, address, bu in batch:
            key = (hash_of(channel, address), bu)
            if key in wides:
                wides.discard(key)
            else:
                report.add(
                    f"wide opt-out of {channel} {address} in business unit {bu}: in the table, not in the ledger"
                )
    query = "SELECT address, channel, undeliverable, confirmation FROM addresses ORDER BY address, channel"
    pop_fact = facts.pop
    for batch in chain.scan(conn, query):
        for address, channel, undeliverable_value, confirmation in batch:
            fact = pop_fact(hash_of(channel, address), None)
            if fact is None:
                if not undeliverable_value and confirmation is None:
                    continue  # what an address with no such event has
                replayed_undeliverable, replayed_confirmation = False, None
            else:
                replayed_undeliverable, replayed_confirmation = fact
            undeliverable = bool(undeliverable_value)
            if undeliverable == replayed_undeliverable and confirmation == replayed_confirmation:
                continue
            if not report.listing:  # past the limit problems are only counted
                report.more_problems += (undeliverable != replayed_undeliverable) + (
                    confirmation != replayed_confirmation
                )
                continue
            if undeliverable != replayed_undeliverable:
                report.add(
                    f"undeliverable of {channel} {address}: the table says {undeliverable}, "
                    f"the ledger {replayed_undeliverable}"
                )
            if confirmation != replayed_confirmation:
                report.add(
                    f"confirmation of {channel} {address}: the table says {confirmation}, "
                    f"the ledger {replayed_confirmation}"
                )
    name = _namer(conn)
    for (h, type_id), status in statuses.items():
        if status != NOT_SPECIFIED:
            report.add(f"status of {name(h)}, type {type_id}: the ledger says {status}, the table has none")
    for h, bu in sorted(wides):
        report.add(f"wide opt-out of {name(h)} in business unit {bu}: in the ledger, not in the table")
    for h, (undeliverable, confirmation) in facts.items():
        if undeliverable or confirmation:
            report.add(f"{name(h)}: the ledger says undeliverable or confirmed, the table has no address row")
    erased = replayed.erased
    table_erased = set(conn.execute(sa.select(t.erasures.c.address_hash)).scalars())
    for h in sorted(table_erased - erased):
        report.add(f"erasure #{h}: in the table, not in the ledger")
    for h in sorted(erased - table_erased):
        report.add(f"erasure #{h}: in the ledger, not in the table")


def _namer(conn: Connection) -> Callable[[str], str]:
    """An address's name for a message: the last one its events recorded (until erasure
    redacted them), read only for the few addresses a message names."""
    e = t.ledger_events
    query = (
        sa.select(e.c.address)
        .where(e.c.address_hash == sa.bindparam("h"), e.c.address.is_not(None), e.c.address != "")
        .order_by(e.c.id.desc())
        .limit(1)
    )

    def name(h: str) -> str:
        found = conn.execute(query, {"h": h}).scalar()
        return str(found) if found else f"address #{h}"

    return name


def _address_hasher(account: Account) -> Callable[[str, str], str]:
    """`account.address_hash`, remembering the last address: a table's rows of one address
    come together more often than not."""
    last_channel: str | None = None
    last_address: str | None = None
    last_hash = ""
    address_hash = account.address_hash

    def hash_of(channel: str, address: str) -> str:
        nonlocal last_channel, last_address, last_hash
        if address != last_address or channel != last_channel:
            last_channel, last_address, last_hash = channel, address, address_hash(channel, address)
        return last_hash

    return hash_of


def _check_outbox(conn: Connection, report: Report) -> None:
    e, o = t.ledger_events, t.outbox
    missing = conn.execute(
        sa.select(e.c.id).outerjoin(o, o.c.event_id == e.c.id).where(o.c.event_id.is_(None)).order_by(e.c.id)
    ).scalars()
    for event_id in missing:
        if report.listing:
            report.add(f"event {event_id} has no outbox row")
        else:
            report.more_problems += 1
    orphans = conn.execute(
        sa.select(o.c.event_id).outerjoin(e, e.c.id == o.c.event_id).where(e.c.id.is_(None)).order_by(o.c.event_id)
    ).scalars()
    for event_id in orphans:
        report.add(f"outbox row {event_id} has no event")
