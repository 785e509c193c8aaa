"""The webhook dispatcher (SPEC R25): from the outbox to every endpoint, at least once, in
ledger order per address and endpoint, with retries — and no head-of-line blocking.

Three steps, each its own short transaction, so `kill -9` at any point loses nothing:

1. **Fan-out.** Every state transaction writes an `outbox` row beside its ledger event
   (services/ledger.py). The fan-out takes the oldest unpublished rows by compare-and-set
   (`UPDATE outbox SET published_at … WHERE published_at IS NULL AND event_id IN (…)
   RETURNING`: two workers never take one row; on PostgreSQL the second waits for the first
   and then finds the rows taken) and writes one `webhook_deliveries` row per endpoint that
   wants the event. Ledger ids are handed out in commit order, so fan-outs run in ledger order.
   A row whose lane (endpoint, address) still has an earlier PENDING row waits
   (`next_attempt_at` NULL); the fan-out first touches that lane's pending rows, which on
   PostgreSQL serializes it with a concurrent completion of the lane's head.
2. **Claim.** Per enabled endpoint, the due lane heads (no earlier PENDING row in their
   lane) are leased by compare-and-set on `lease_until`, at most `per_endpoint` at a time
   per endpoint: a dead receiver holds a few threads, never all of them.
3. **Deliver and record.** A thread pool POSTs (webhook_sender); the loop records results
   in batches: delivered, or a retry after `retry_delay`, or — after three days — given up.
   Leaving PENDING makes the lane's next row due. Recording checks the lease is still ours.

A worker killed after sending but before recording sends the event again once its lease
has run out (at least once; receivers deduplicate on `webhook-id`, the ledger event id).
Time comes from `clock`, so tests can jump three days.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from assent.domain import webhooks as rules
from assent.domain.webhooks import AttemptOutcome, DeliveryState
from assent.jobs.queue import default_owner
from assent.jobs.webhook_sender import Result, Sender, body_of, sign
from assent.services.events import public_events
from assent.services.webhooks import signing_secrets
from assent.storage import tables as t
from assent.storage.db import Database

log = logging.getLogger("assent.webhooks")
PENDING = DeliveryState.PENDING.value
Clock = Callable[[], dt.datetime]


@dataclass(frozen=True, slots=True)
class Claimed:
    endpoint_id: str
    event_id: int
    address_hash: str
    attempts: int
    first_attempt_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Done:
    claimed: Claimed
    at: dt.datetime
    result: Result


class Dispatcher:
    def __init__(
        self,
        db: Database,
        *,
        allow_private: bool = False,
        retry_base_seconds: float = 5.0,
        clock: Clock = t.now,
        owner: str | None = None,
        lease: dt.timedelta = dt.timedelta(seconds=60),
        threads: int = 16,
        per_endpoint: int = 4,
        fan_out_size: int = 1000,
        poll: float = 0.2,
        sender: Sender | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.retry_base = retry_base_seconds
        self.clock = clock
        self.owner = owner or default_owner()
        self.lease = lease
        self.threads = threads
        self.per_endpoint = per_endpoint
        self.fan_out_size = fan_out_size
        self.poll = poll
        # An attempt must end well inside its lease, or a second worker could start it too.
        timeout = min(rules.TIMEOUT_SECONDS, max(0.5, lease.total_seconds() / 2))
        self.sender = sender or Sender(allow_private=allow_private, timeout=timeout)
        self.rng = rng or random.Random()
        #: what this dispatcher did (logs, tests)
        self.delivered = 0
        self.failed = 0
        self.gave_up = 0

    # --- the loop -------------------------------------------------------------------------

    def run(self, stop: threading.Event, *, until_idle: bool = False) -> None:
        """Dispatch until `stop` is set (or, with `until_idle`, until nothing is due)."""
        results: queue.Queue[Done] = queue.Queue()
        inflight: collections.Counter[str] = collections.Counter()
        last_sweep = 0.0
        with ThreadPoolExecutor(self.threads, thread_name_prefix="assent-webhooks") as pool:
            while True:
                finished = _drain(results)
                try:
                    self._record(finished)
                    for done in finished:
                        inflight[done.claimed.endpoint_id] -= 1
                    if stop.is_set():
                        break
                    fanned = self.fan_out()
                    now_mono = time.monotonic()
                    if now_mono - last_sweep > 30:
                        self.sweep()
                        last_sweep = now_mono
                    claimed, work = self._claim(inflight)
                except Exception:  # a database outage must not end the loop
                    if until_idle:
                        raise
                    log.exception("webhook dispatcher %s: a round failed", self.owner)
                    stop.wait(self.poll)
                    continue
                for item, (url, secrets, body) in zip(claimed, work, strict=True):
                    inflight[item.endpoint_id] += 1
                    pool.submit(self._attempt, results, item, url, secrets, body)
                busy = bool(finished or fanned or claimed)
                if until_idle and not busy and sum(inflight.values()) == 0:
                    break
                if not busy:
                    with contextlib.suppress(queue.Empty):
                        results.put(results.get(timeout=self.poll))
        self._record(_drain(results))  # the pool has finished what it had
        self.sender.close()

    def run_until_idle(self) -> None:
        self.run(threading.Event(), until_idle=True)

    def _attempt(self, results: queue.Queue[Done], item: Claimed, url: str, secrets: list[str], body: bytes) -> None:
        at = self.clock()
        try:
            result = self.sender.post(url, body, sign(secrets, str(item.event_id), at, body))
        except Exception as error:  # never lose a result: an unexpected error is a failed attempt
            log.exception("webhook attempt failed unexpectedly")
            result = Result(None, f"{type(error).__name__}: {error}"[:500], None, 0)
        results.put(Done(item, at, result))

    # --- 1. fan-out -----------------------------------------------------------------------

    def fan_out(self) -> int:
        """Publish the oldest unpublished outbox rows to the endpoints that want them."""
        o, d = t.outbox, t.webhook_deliveries
        with self.db.read() as conn:
            waiting = conn.execute(sa.select(o.c.event_id).where(o.c.published_at.is_(None)).limit(1)).first()
        if waiting is None:
            return 0
        now = self.clock()
        with self.db.write() as conn:
            oldest = sa.select(o.c.event_id).where(o.c.published_at.is_(None)).order_by(o.c.event_id)
            taken = list(conn.execute(
                sa.update(o)
                .where(o.c.published_at.is_(None), o.c.event_id.in_(oldest.limit(self.fan_out_size).scalar_subquery()))
                .values(published_at=now)
                .returning(o.c.event_id, o.c.address_hash)
            ))
            if not taken:
                return 0
            taken.sort(key=lambda row: row.event_id)
            e, w = t.ledger_events, t.webhook_endpoints
            ids = [r.event_id for r in taken]
            kinds = {r.id: r.kind for r in conn.execute(sa.select(e.c.id, e.c.kind).where(e.c.id.in_(ids)))}
            endpoints = conn.execute(sa.select(w.c.id, w.c.event_types, w.c.start_after)).all()
            wanted = [
                (row, endpoint.id)
                for row in taken
                for endpoint in endpoints
                if row.event_id > endpoint.start_after and rules.wants(endpoint.event_types, kinds[row.event_id])
            ]
            if not wanted:
                return len(taken)
            busy = _busy_lanes(conn, {ep for _, ep in wanted}, {row.address_hash for row, _ in wanted})
            rows = []
            for row, endpoint_id in wanted:
                lane = (endpoint_id, row.address_hash)
                rows.append(
                    {
                        "endpoint_id": endpoint_id,
                        "event_id": row.event_id,
                        "address_hash": row.address_hash,
                        "state": PENDING,
                        "attempts": 0,
                        "next_attempt_at": None if lane in busy else now,
                        "created_at": now,
                    }
                )
                busy.add(lane)
            self.db.bulk_insert(conn, d, rows)
        return len(taken)

    def sweep(self) -> int:
        """Make due any waiting row whose lane has no earlier PENDING row (a safety net: the
        fan-out and the completion of a lane's head already hand the turn on)."""
        d = t.webhook_deliveries
        p = d.alias("earlier")
        with self.db.write() as conn:
            return conn.execute(
                sa.update(d)
                .where(d.c.state == PENDING, d.c.next_attempt_at.is_(None), ~_earlier_pending(d, p))
                .values(next_attempt_at=self.clock())
            ).rowcount

    # --- 2. claim -------------------------------------------------------------------------

    def _claim(self, inflight: collections.Counter[str]) -> tuple[list[Claimed], list[tuple[str, list[str], bytes]]]:
        free_threads = self.threads - sum(inflight.values())
        if free_threads <= 0:
            return [], []
        now = self.clock()
        d, w = t.webhook_deliveries, t.webhook_endpoints
        p = d.alias("earlier")
        with self.db.read() as conn:
            endpoints = {row.id: row for row in conn.execute(sa.select(w).where(w.c.enabled.is_(True)))}
            candidates: dict[str, list[int]] = {}
            for endpoint_id in endpoints:
                room = min(self.per_endpoint - inflight[endpoint_id], free_threads)
                if room <= 0:
                    continue
                ids = conn.execute(
                    sa.select(d.c.event_id)
                    .where(
                        d.c.endpoint_id == endpoint_id,
                        d.c.state == PENDING,
                        d.c.next_attempt_at <= now,
                        _lease_free(now),
                        ~_earlier_pending(d, p),
                    )
                    .order_by(d.c.next_attempt_at, d.c.event_id)
                    .limit(room * 4)
                ).scalars().all()
                if ids:
                    # Heads of different lanes are independent: take a random `room` of the
                    # oldest, so that workers racing for the same rows mostly do not collide.
                    chosen = sorted(self.rng.sample(list(ids), min(room, len(ids))))
                    candidates[endpoint_id] = chosen
                    free_threads -= len(chosen)
        if not candidates:
            return [], []
        claimed: list[Claimed] = []
        with self.db.write() as conn:
            for endpoint_id, ids in candidates.items():
                rows = conn.execute(
                    sa.update(d)
                    .where(d.c.endpoint_id == endpoint_id, d.c.event_id.in_(ids), d.c.state == PENDING)
                    .where(_lease_free(now))
                    .values(lease_owner=self.owner, lease_until=now + self.lease)
                    .returning(d.c.event_id, d.c.address_hash, d.c.attempts, d.c.first_attempt_at)
                ).all()
                claimed += [Claimed(endpoint_id, *r) for r in rows]
            events = public_events(conn, sorted({c.event_id for c in claimed}))
        claimed.sort(key=lambda c: c.event_id)
        work = []
        for item in claimed:
            endpoint = endpoints[item.endpoint_id]
            data = events[item.event_id]
            body = body_of(rules.event_type(data["kind"]).value, data["at"], data)
            work.append((endpoint.url, signing_secrets(endpoint, now), body))
        return claimed, work

    # --- 3. record ------------------------------------------------------------------------

    def _record(self, finished: list[Done]) -> None:
        if not finished:
            return
        now = self.clock()
        d, w, a = t.webhook_deliveries, t.webhook_endpoints, t.webhook_attempts
        with self.db.write() as conn:
            endpoint_ids = {done.claimed.endpoint_id for done in finished}
            failing: dict[str, dt.datetime | None] = {
                r.id: r.failing_since
                for r in conn.execute(sa.select(w.c.id, w.c.failing_since).where(w.c.id.in_(endpoint_ids)))
            }
            last_error: dict[str, str] = {}
            attempts = []
            for done in finished:
                item, result = done.claimed, done.result
                ok = rules.succeeded(result.status_code)
                first = item.first_attempt_at or done.at
                values: dict[str, Any] = {
                    "attempts": item.attempts + 1,
                    "first_attempt_at": first,
                    "last_status_code": result.status_code,
                    "last_error": result.error,
                    "lease_owner": None,
                    "lease_until": None,
                }
                next_at: dt.datetime | None = None
                if ok:
                    outcome = AttemptOutcome.DELIVERED
                    values.update(state=DeliveryState.DELIVERED.value, finished_at=now, next_attempt_at=None)
                elif rules.gives_up(first, now):
                    outcome = AttemptOutcome.GAVE_UP
                    values.update(state=DeliveryState.GAVE_UP.value, finished_at=now, next_attempt_at=None)
                else:
                    outcome = AttemptOutcome.RETRY
                    next_at = now + rules.retry_delay(item.attempts + 1, self.retry_base, self.rng.random())
                    values.update(next_attempt_at=next_at)
                moved = conn.execute(
                    sa.update(d)
                    .where(
                        d.c.endpoint_id == item.endpoint_id,
                        d.c.event_id == item.event_id,
                        d.c.state == PENDING,
                        d.c.lease_owner == self.owner,
                        d.c.attempts == item.attempts,
                    )
                    .values(**values)
                ).rowcount
                if moved != 1:
                    log.warning("webhook %s event %d: lease lost, result dropped", item.endpoint_id, item.event_id)
                    continue
                attempts.append(
                    {
                        "endpoint_id": item.endpoint_id,
                        "event_id": item.event_id,
                        "attempt": item.attempts + 1,
                        "outcome": outcome.value,
                        "status_code": result.status_code,
                        "error": result.error,
                        "response_body": (result.body or "")[: rules.MAX_RESPONSE_BYTES] or None,
                        "duration_ms": result.duration_ms,
                        "at": done.at,
                        "next_attempt_at": next_at,
                    }
                )
                if ok:
                    self.delivered += 1
                    failing[item.endpoint_id] = None
                else:
                    self.failed += 1
                    failing[item.endpoint_id] = failing.get(item.endpoint_id) or done.at
                    last_error[item.endpoint_id] = result.error or "failed"
                if outcome is not AttemptOutcome.RETRY:
                    _hand_on(conn, item, now)
                if outcome is AttemptOutcome.GAVE_UP:
                    self.gave_up += 1
                    log.warning(
                        "webhook %s: gave up on event %d after %d attempts since %s: %s",
                        item.endpoint_id, item.event_id, item.attempts + 1, first.isoformat(), result.error,
                    )
            if attempts:
                conn.execute(a.insert(), attempts)
            for endpoint_id, since in failing.items():
                conn.execute(sa.update(w).where(w.c.id == endpoint_id).values(failing_since=since))
                if endpoint_id in last_error and rules.disables(since, now):
                    assert since is not None
                    reason = (
                        f"Disabled automatically: every delivery failed since {since:%Y-%m-%d %H:%M} UTC "
                        f"(3 days). Last error: {last_error[endpoint_id]}. Enable it again once the receiver works."
                    )[:1000]
                    disabled = conn.execute(
                        sa.update(w)
                        .where(w.c.id == endpoint_id, w.c.enabled.is_(True))
                        .values(enabled=False, disabled_at=now, disabled_reason=reason, updated_at=now)
                    ).rowcount
                    if disabled:
                        log.warning("webhook %s: %s", endpoint_id, reason)


def _lease_free(now: dt.datetime) -> sa.ColumnElement[bool]:
    d = t.webhook_deliveries
    return sa.or_(d.c.lease_until.is_(None), d.c.lease_until < now)


def _earlier_pending(d: sa.Table, p: Any) -> sa.Exists:
    return sa.exists().where(
        p.c.endpoint_id == d.c.endpoint_id,
        p.c.address_hash == d.c.address_hash,
        p.c.state == PENDING,
        p.c.event_id < d.c.event_id,
    )


def _busy_lanes(conn: sa.Connection, endpoint_ids: set[str], hashes: set[str]) -> set[tuple[str, str]]:
    """Lanes that already have a PENDING row. Touching those rows (a no-op update) makes a
    concurrent completion of the lane's head wait for this fan-out, or this fan-out wait for
    it and then see the head gone: either way the turn is handed on (PostgreSQL; SQLite's
    write transactions are exclusive anyway)."""
    d = t.webhook_deliveries
    busy: set[tuple[str, str]] = set()
    for chunk in _chunks(sorted(hashes), 500):
        touched = conn.execute(
            sa.update(d)
            .where(d.c.state == PENDING, d.c.endpoint_id.in_(endpoint_ids), d.c.address_hash.in_(chunk))
            .values(state=d.c.state)
            .returning(d.c.endpoint_id, d.c.address_hash)
        )
        busy.update((r.endpoint_id, r.address_hash) for r in touched)
    return busy


def _hand_on(conn: sa.Connection, item: Claimed, now: dt.datetime) -> None:
    """The lane's head left PENDING: its next row is due."""
    d = t.webhook_deliveries
    following = conn.execute(
        sa.select(sa.func.min(d.c.event_id)).where(
            d.c.endpoint_id == item.endpoint_id,
            d.c.address_hash == item.address_hash,
            d.c.state == PENDING,
            d.c.event_id > item.event_id,
        )
    ).scalar()
    if following is not None:
        conn.execute(
            sa.update(d)
            .where(d.c.endpoint_id == item.endpoint_id, d.c.event_id == following, d.c.next_attempt_at.is_(None))
            .values(next_attempt_at=now)
        )


def _drain(results: queue.Queue[Done]) -> list[Done]:
    found = []
    while True:
        try:
            found.append(results.get_nowait())
        except queue.Empty:
            return found


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
