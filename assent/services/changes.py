"""`Writer`: every per-address state change, written in the caller's one transaction
(STYLE §2), for one address or thousands at once: new state, ledger events, outbox rows.
Only the actions (`assent/actions/`) and jobs build one; interfaces call the actions.

Evidence is the writer's (one for every change, the common case) unless a call passes one
per address row (`evidence=[…]`): imports, HubSpot batch writes and workflows carry a legal
basis per row.

Every action first "touches" the addresses it will change (an upsert of their `addresses`
row). On PostgreSQL that locks the rows until commit, on SQLite the write transaction is
already exclusive, so two writers of one address take turns and each reads the state the
other committed: no lost update, no event with a stale `old_status`. Setting a wide opt-out
touches only the addresses it would change, and reads those again once they are locked
(those that existed: a row the touch created had no opt-out to read).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.addresses import Address
from assent.domain.model import (
    Actor,
    Channel,
    ConfirmationState,
    EventKind,
    EventState,
    Evidence,
    LegalBasis,
    Outcome,
    Reason,
    Status,
    Verdict,
    WideOptOut,
)
from assent.domain.rules import (
    judge_status_change,
    judge_wide_opt_out_removal,
    judge_wide_opt_out_set,
    lifts_erasure,
    recorded_legal_basis,
)
from assent.services import ledger
from assent.services.ledger import RequestContext
from assent.services.state import (
    Account,
    StoredStatus,
    SubscriptionType,
    load_address_facts,
    load_erased,
    load_status_rows,
    load_statuses,
    load_wide_opt_outs,
)
from assent.storage import tables as t
from assent.storage.db import Database, among
from assent.storage.upsert import upsert


@dataclass(frozen=True, slots=True)
class ChangeResult:
    subscription_type_id: int
    old_status: Status
    new_status: Status
    outcome: Outcome
    reason: Reason | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "subscription_type_id": self.subscription_type_id,
            "old_status": self.old_status.value,
            "new_status": self.new_status.value,
            "outcome": self.outcome.value,
            "reason": self.reason.value if self.reason else None,
        }


@dataclass(frozen=True, slots=True)
class WideResult:
    business_unit_id: int
    outcome: Outcome
    reason: Reason | None
    opted_out: bool  # after the change


@dataclass
class Writer:
    """One write transaction on behalf of one actor."""

    db: Database
    conn: Connection
    account: Account
    actor: Actor
    evidence: Evidence = field(default_factory=Evidence)
    context: RequestContext = field(default_factory=RequestContext)
    at: dt.datetime = field(default_factory=t.now)
    #: judge every change exactly as a real run would, but write nothing: an import's
    #: predicted outcomes before anyone confirms it (R34) come from the same code path
    dry_run: bool = False
    _hashes: dict[tuple[str, str], str] = field(default_factory=dict, init=False, repr=False)
    _hashers: dict[Channel, Callable[[str], str]] = field(default_factory=dict, init=False, repr=False)
    _bases: dict[int, tuple[Evidence, dict[str, Any]]] = field(default_factory=dict, init=False, repr=False)
    #: addresses this writer has locked (or created) in its transaction: touched once
    _touched: set[tuple[Channel, str]] = field(default_factory=set, init=False, repr=False)
    #: the `subscription_statuses` rows this writer wrote, by (address key, type id), the last
    #: of each: what an interface answers about them after the change, without reading it back
    written: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict, init=False, repr=False)
    #: read each status with its evidence (`read`): what an interface answers about a status
    #: left unchanged, without reading it again
    keep_read: bool = False
    #: with `keep_read`, the stored statuses this writer last read under its lock, by (address
    #: key, type id); a pair it read and found no row for is absent (NOT_SPECIFIED)
    read: dict[tuple[str, int], StoredStatus] = field(default_factory=dict, init=False, repr=False)

    # --- building blocks ----------------------------------------------------------------

    def touch(self, channel: Channel, addresses: Sequence[Address], *, created: bool = False) -> set[str] | None:
        """Create missing address rows and lock existing ones (see module docstring). An
        address this writer touched before is already locked until commit: not again.

        With `created`, on PostgreSQL, returns the keys whose row this call created (None on
        SQLite, whose write transaction excludes every other writer from BEGIN)."""
        if self.dry_run:
            return None
        touched = self._touched
        seen: dict[str, Address] = {a.key: a for a in addresses if (channel, a.key) not in touched}
        if not seen:
            return set()
        rows = [
            {
                "address": a.key,
                "channel": channel.value,
                "display": a.display,
                "undeliverable": False,
                "soft_bounces": 0,
                "created_at": self.at,
                "updated_at": self.at,
            }
            for a in seen.values()
        ]
        returning = "address" if created else None
        made = upsert(self.conn, t.addresses, rows, keys=("address", "channel"), returning=returning)
        touched.update((channel, key) for key in seen)
        return None if made is None else set(made)

    def event(self, address: Address, evidence: Evidence | None = None, **fields: Any) -> dict[str, Any]:
        return {
            **self._event_base(evidence or self.evidence),
            "address_hash": self._hash(address),
            "channel": address.channel.value,
            "address": address.display,
            **fields,
        }

    def _event_base(self, evidence: Evidence) -> dict[str, Any]:
        """The fields that all events of this writer with this evidence share, built once (a
        bulk run makes thousands of events of one actor, one context and one evidence)."""
        found = self._bases.get(id(evidence))
        if found is not None and found[0] is evidence:
            return found[1]
        base = {
            "source": self.actor.source.value,
            "actor_kind": self.actor.klass.value,
            "actor_id": self.actor.id,
            "ip": self.context.ip,
            "user_agent": self.context.user_agent,
            "job_id": self.context.job_id,
            "notice_version": evidence.notice_version,
            "notice_text": evidence.notice_text,
            "legal_basis_explanation": evidence.legal_basis_explanation,
            "processing_legal_basis": (
                evidence.processing_legal_basis.value if evidence.processing_legal_basis else None
            ),
        }
        if len(self._bases) > 1000:
            self._bases.clear()
        self._bases[id(evidence)] = (evidence, base)  # the evidence is kept: its id stays its own
        return base

    def erased(self, channel: Channel, keys: Iterable[str]) -> set[str]:
        """Which of these addresses were erased (R22), hashed once for this and the events."""
        return load_erased(self.conn, self.account, channel, keys, self._hash_key)

    def _evidence_of(self, evidence: Sequence[Evidence | None] | None, count: int) -> list[Evidence]:
        """The evidence of each address row: its own, else the writer's."""
        if evidence is None:
            return [self.evidence] * count
        if len(evidence) != count:
            raise ValueError(f"{len(evidence)} evidence rows for {count} addresses")
        return [found or self.evidence for found in evidence]

    def _hash(self, address: Address) -> str:
        return self._hash_key(address.channel, address.key)

    def _hash_key(self, channel: Channel, key: str) -> str:
        # One address has several events in a bulk run, and its erasure is looked up by the
        # same hash: hash it once.
        found = self._hashes.get((channel, key))
        if found is None:
            hash_of = self._hashers.get(channel)
            if hash_of is None:
                hash_of = self._hashers[channel] = self.account.address_hasher(channel)
            found = self._hashes[(channel, key)] = hash_of(key)
        return found

    # --- actions ------------------------------------------------------------------------

    def change_statuses(
        self,
        channel: Channel,
        requests: Sequence[tuple[Address, Sequence[tuple[SubscriptionType, Status]]]],
        evidence: Sequence[Evidence | None] | None = None,
    ) -> list[list[ChangeResult]]:
        """Judge and apply status changes for many addresses of one channel (R3–R10).
        `evidence`, when given, is each address row's own (None: the writer's)."""
        row_evidence = self._evidence_of(evidence, len(requests))
        actor = self.actor
        addresses = [address for address, _ in requests]
        self.touch(channel, addresses)
        keys = {a.key for a in addresses}
        type_ids = {st.id for _, changes in requests for st, _ in changes}
        bu_ids = {st.business_unit_id for _, changes in requests for st, _ in changes}
        if self.keep_read:
            stored = load_status_rows(self.conn, keys, type_ids)
            for pair in [p for p in self.read if p not in stored and p[0] in keys and p[1] in type_ids]:
                del self.read[pair]
            self.read.update(stored)
            statuses = {pair: row[0] for pair, row in stored.items()}
        else:
            statuses = load_statuses(self.conn, keys, type_ids)
        wides = load_wide_opt_outs(self.conn, channel, keys, bu_ids)
        facts = load_address_facts(self.conn, channel, keys)
        erased = load_erased(self.conn, self.account, channel, keys, self._hash_key)

        dry_run = self.dry_run
        results: list[list[ChangeResult]] = []
        status_rows: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        basis_for: dict[str, Evidence] = {}
        lifted_erasures: set[str] = set()
        for (address, changes), proof in zip(requests, row_evidence, strict=True):
            fact = facts.get(address.key)
            row_results = []
            for st, target in changes:
                current = statuses.get((address.key, st.id), Status.NOT_SPECIFIED)
                verdict = judge_status_change(
                    current=current,
                    target=target,
                    actor=actor,
                    evidence=proof,
                    policy=self.account.policy,
                    wide_opt_out=wides.get((address.key, st.business_unit_id)),
                    erased=address.key in erased,
                    has_processing_basis=bool(fact and fact.has_processing_basis),
                )
                row_results.append(_result(st.id, current, target, verdict))
                if not verdict.applies:
                    continue
                statuses[(address.key, st.id)] = target  # a later change in one request sees it
                if dry_run:
                    continue  # judged: a dry run builds no row and no event
                basis = recorded_legal_basis(actor, target, proof)
                legal_basis = basis.value if basis else None
                status_rows.append(
                    {
                        "address": address.key,
                        "subscription_type_id": st.id,
                        "channel": channel.value,
                        "status": target.value,
                        "legal_basis": legal_basis,
                        "legal_basis_explanation": proof.legal_basis_explanation,
                        "source": actor.source.value,
                        "updated_at": self.at,
                    }
                )
                events.append(
                    self.event(
                        address,
                        proof,
                        kind=EventKind.STATUS,
                        business_unit_id=st.business_unit_id,
                        subscription_type_id=st.id,
                        old_status=current.value,
                        new_status=target.value,
                        legal_basis=legal_basis,
                    )
                )
                if target is Status.SUBSCRIBED and proof.processing_legal_basis:
                    basis_for[address.key] = proof
                if address.key in erased and lifts_erasure(actor, target):
                    lifted_erasures.add(address.key)  # the person opted in themself (R22)
            results.append(row_results)
        if self.dry_run:
            return results

        # A status row may appear twice (one request naming a type twice): keep the last.
        unique_rows = {(r["address"], r["subscription_type_id"]): r for r in status_rows}
        upsert(
            self.conn,
            t.subscription_statuses,
            list(unique_rows.values()),
            keys=("address", "subscription_type_id"),
            update=("status", "legal_basis", "legal_basis_explanation", "source", "updated_at"),
        )
        self.written.update(unique_rows)
        self._store_processing_basis(channel, basis_for)
        self._lift_erasures(channel, lifted_erasures)
        changed_keys = {r["address"] for r in status_rows}
        self._forget_erased(channel, erased - changed_keys)
        ledger.append(self.db, self.conn, events, self.at)
        return results

    def set_wide_opt_out(
        self,
        channel: Channel,
        addresses: Sequence[Address],
        business_unit_id: int,
        evidence: Sequence[Evidence | None] | None = None,
    ) -> list[WideResult]:
        """R8: "unsubscribe from all" for (address, channel, BU). Always allowed."""
        row_evidence = self._evidence_of(evidence, len(addresses))
        actor, at, dry_run = self.actor, self.at, self.dry_run
        current = load_wide_opt_outs(self.conn, channel, {a.key for a in addresses}, [business_unit_id])
        if not dry_run:
            self._lock_wide_opt_out_changes(channel, addresses, business_unit_id, current)
        set_by, source, channel_value = actor.klass.value, actor.source.value, channel.value
        now_set = _wide(business_unit_id, actor)
        # Results are immutable and few of them differ: one object per verdict.
        outcomes: dict[Verdict, WideResult] = {}
        rows, events, results = [], [], []
        for address, proof in zip(addresses, row_evidence, strict=True):
            existing = current.get((address.key, business_unit_id))
            verdict = judge_wide_opt_out_set(existing, actor)
            result = outcomes.get(verdict)
            if result is None:
                result = outcomes[verdict] = WideResult(business_unit_id, verdict.outcome, verdict.reason, True)
            results.append(result)
            if not verdict.applies:
                continue
            current[(address.key, business_unit_id)] = now_set
            if dry_run:
                continue  # judged: a dry run builds no row and no event
            rows.append(
                {
                    "address": address.key,
                    "channel": channel_value,
                    "business_unit_id": business_unit_id,
                    "set_by": set_by,
                    "source": source,
                    "at": at,
                }
            )
            events.append(
                self.event(
                    address,
                    proof,
                    kind=EventKind.WIDE_OPT_OUT,
                    business_unit_id=business_unit_id,
                    old_status=Status.UNSUBSCRIBED if existing else Status.NOT_SPECIFIED,
                    new_status=Status.UNSUBSCRIBED,
                    legal_basis=proof.legal_basis.value if proof.legal_basis else None,
                )
            )
        if self.dry_run:
            return results
        upsert(
            self.conn,
            t.wide_opt_outs,
            rows,
            keys=("address", "channel", "business_unit_id"),
            update=("set_by", "source", "at"),
        )
        ledger.append(self.db, self.conn, events, self.at)
        return results

    def _lock_wide_opt_out_changes(
        self,
        channel: Channel,
        addresses: Sequence[Address],
        business_unit_id: int,
        current: dict[tuple[str, int], WideOptOut],
    ) -> None:
        """Lock only the addresses whose opt-out this call would change, and read theirs
        again (into `current`) under the lock; one already opted out is left unlocked and
        unwritten. An opt-out list imported again (a million addresses, every one UNCHANGED)
        then takes no row lock (on PostgreSQL a lock writes the row's page and WAL) and
        attempts no insert."""
        actor = self.actor
        locking = [
            a
            for a in addresses
            if (channel, a.key) not in self._touched
            and judge_wide_opt_out_set(current.get((a.key, business_unit_id)), actor).applies
        ]
        if not locking:
            return
        created = self.touch(channel, locking, created=True)
        if self.db.is_sqlite:
            return  # SQLite's write transaction was exclusive from BEGIN: nothing changed since
        # An address whose row this touch created had none before: no other writer had
        # locked it, so none set a wide opt-out on it since it was read (every writer of
        # wide_opt_outs touches the address first). Only the others are read again.
        keys = {a.key for a in locking} - (created or set())
        if not keys:
            return
        for key in keys:
            current.pop((key, business_unit_id), None)
        current.update(load_wide_opt_outs(self.conn, channel, keys, [business_unit_id]))

    def remove_wide_opt_out(
        self,
        channel: Channel,
        addresses: Sequence[Address],
        business_unit_id: int,
        evidence: Sequence[Evidence | None] | None = None,
    ) -> list[WideResult]:
        """R8: lift an "unsubscribe from all" — the contact's own explicit act always, a user
        only one that a user or an import set, a workflow or an import never."""
        row_evidence = self._evidence_of(evidence, len(addresses))
        self.touch(channel, addresses)
        keys = {a.key for a in addresses}
        current = load_wide_opt_outs(self.conn, channel, keys, [business_unit_id])
        facts = load_address_facts(self.conn, channel, keys)
        erased = load_erased(self.conn, self.account, channel, keys, self._hash_key)
        w = t.wide_opt_outs
        events, results, removed = [], [], []
        for address, proof in zip(addresses, row_evidence, strict=True):
            existing = current.get((address.key, business_unit_id))
            fact = facts.get(address.key)
            verdict = judge_wide_opt_out_removal(
                current=existing,
                actor=self.actor,
                evidence=proof,
                policy=self.account.policy,
                erased=address.key in erased,
                has_processing_basis=bool(fact and fact.has_processing_basis),
            )
            results.append(
                WideResult(
                    business_unit_id, verdict.outcome, verdict.reason, not verdict.applies and existing is not None
                )
            )
            if not verdict.applies:
                continue
            current.pop((address.key, business_unit_id), None)
            if self.dry_run:
                continue  # judged: a dry run builds no event
            removed.append(address.key)
            events.append(
                self.event(
                    address,
                    proof,
                    kind=EventKind.WIDE_OPT_OUT,
                    business_unit_id=business_unit_id,
                    old_status=Status.UNSUBSCRIBED,
                    new_status=Status.NOT_SPECIFIED,
                    legal_basis=proof.legal_basis.value if proof.legal_basis else None,
                )
            )
        if self.dry_run:
            return results
        if removed:
            self.conn.execute(
                sa.delete(w).where(
                    w.c.channel == channel.value,
                    w.c.business_unit_id == business_unit_id,
                    among(self.conn, w.c.address, removed),
                )
            )
        self._forget_erased(channel, erased - set(removed))
        ledger.append(self.db, self.conn, events, self.at)
        return results

    def set_undeliverable(self, address: Address, undeliverable: bool, reason: str | None) -> Outcome:
        """A hard bounce (PROVIDER) marks an address undeliverable; a user clears it (R11)."""
        self.touch(address.channel, [address])
        a = t.addresses
        row = self.conn.execute(
            sa.select(a.c.undeliverable).where(a.c.address == address.key, a.c.channel == address.channel.value)
        ).one()
        if bool(row.undeliverable) == undeliverable:
            return Outcome.UNCHANGED
        self.conn.execute(
            sa.update(a)
            .where(a.c.address == address.key, a.c.channel == address.channel.value)
            .values(
                undeliverable=undeliverable,
                undeliverable_reason=reason,
                undeliverable_at=self.at if undeliverable else None,
                updated_at=self.at,
            )
        )
        ledger.append(
            self.db,
            self.conn,
            [
                self.event(
                    address,
                    kind=EventKind.UNDELIVERABLE,
                    old_status=_deliverability(bool(row.undeliverable)),
                    new_status=_deliverability(undeliverable),
                    legal_basis_explanation=reason or self.evidence.legal_basis_explanation,
                )
            ],
            self.at,
        )
        return Outcome.CHANGED

    def set_confirmation(self, address: Address, state: ConfirmationState) -> Outcome:
        """Double opt-in (R16): PENDING after a form opt-in, CONFIRMED by the person."""
        self.touch(address.channel, [address])
        a = t.addresses
        current = self.conn.execute(
            sa.select(a.c.confirmation).where(a.c.address == address.key, a.c.channel == address.channel.value)
        ).scalar_one()
        if current == state.value or (current == ConfirmationState.CONFIRMED and state is ConfirmationState.PENDING):
            return Outcome.UNCHANGED  # confirmation is per address and is not taken back
        self.conn.execute(
            sa.update(a)
            .where(a.c.address == address.key, a.c.channel == address.channel.value)
            .values(confirmation=state.value, confirmation_at=self.at, updated_at=self.at)
        )
        ledger.append(
            self.db,
            self.conn,
            [self.event(address, kind=EventKind.CONFIRMATION, old_status=current, new_status=state.value)],
            self.at,
        )
        return Outcome.CHANGED

    def _store_processing_basis(self, channel: Channel, evidence_of: dict[str, Evidence]) -> None:
        """Each opted-in address keeps its evidence's legal basis to process: one UPDATE
        per distinct (basis, explanation) — one in the common case."""
        groups: dict[tuple[LegalBasis, str | None], list[str]] = {}
        for key, proof in evidence_of.items():
            assert proof.processing_legal_basis is not None
            groups.setdefault((proof.processing_legal_basis, proof.legal_basis_explanation), []).append(key)
        a = t.addresses
        for (basis, explanation), keys in groups.items():
            self.conn.execute(
                sa.update(a)
                .where(a.c.channel == channel.value, among(self.conn, a.c.address, sorted(keys)))
                .values(
                    processing_legal_basis=basis.value,
                    processing_legal_basis_explanation=explanation,
                    updated_at=self.at,
                )
            )

    def _forget_erased(self, channel: Channel, keys: set[str]) -> None:
        """`touch` wrote the address to lock it; for an erased address whose change was
        refused, nothing may stay behind (R22): drop the row again if it holds nothing."""
        if not keys:
            return
        self._touched.difference_update((channel, key) for key in keys)  # it may be gone now
        a, s, w = t.addresses, t.subscription_statuses, t.wide_opt_outs
        self.conn.execute(
            sa.delete(a).where(
                a.c.channel == channel.value,
                among(self.conn, a.c.address, sorted(keys)),
                sa.not_(a.c.undeliverable),
                a.c.confirmation.is_(None),
                a.c.processing_legal_basis.is_(None),
                ~sa.exists().where(s.c.address == a.c.address, s.c.channel == a.c.channel),
                ~sa.exists().where(w.c.address == a.c.address, w.c.channel == a.c.channel),
            )
        )

    def _lift_erasures(self, channel: Channel, keys: set[str]) -> None:
        if not keys:
            return
        e = t.erasures
        hashes = [self._hash_key(channel, key) for key in keys]
        self.conn.execute(sa.delete(e).where(e.c.channel == channel.value, among(self.conn, e.c.address_hash, hashes)))


def _result(type_id: int, current: Status, target: Status, verdict: Verdict) -> ChangeResult:
    new = target if verdict.applies else current
    return ChangeResult(type_id, current, new, verdict.outcome, verdict.reason)


def _deliverability(undeliverable: bool) -> EventState:
    return EventState.UNDELIVERABLE if undeliverable else EventState.DELIVERABLE


def _wide(business_unit_id: int, actor: Actor) -> WideOptOut:
    return WideOptOut(business_unit_id, actor.klass, actor.source)
