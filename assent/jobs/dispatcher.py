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
from typing import Any, TypeVar

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
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Claimed:
    endpoint_id: str
    event_id: int
    address_hash: str
    attempts: int
    first_attempt_at: dt.datetime | None


@dataclass(frozen=True, slots=True, eq=False)
class Work:
    """A claimed row, ready to send."""

    claimed: Claimed
    url: str
    secrets: list[str]
    body: bytes
    lease_until: dt.datetime


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
        self._endpoints: dict[str, Any] = {}
        self._endpoints_read = -1e9
        self._outbox_empty_at = -1e9
        self._nothing_due_at = -1e9
        self._throttle = 0.05
        #: what this dispatcher did (logs, tests)
        self.delivered = 0
        self.failed = 0
        self.gave_up = 0

    # --- the loop -------------------------------------------------------------------------

    def run(self, stop: threading.Event, *, until_idle: bool = False) -> None:
        """Dispatch until `stop` is set (or, with `until_idle`, until nothing is due).

        Claimed rows wait in a local queue per endpoint and go to the thread pool as that
        endpoint's slots free up; results are recorded in batches (one transaction per up
        to 500 results or 100 ms), so a fast receiver is not limited by commits."""
        # Looking again within 50 ms of finding nothing is skipped — except when running until
        # idle, where "nothing" must mean nothing.
        self._throttle = 0.0 if until_idle else 0.05
        results: queue.Queue[Done] = queue.Queue()
        inflight: collections.Counter[str] = collections.Counter()
        waiting: dict[str, collections.deque[Work]] = collections.defaultdict(collections.deque)
        seconds: dict[str, float] = {}  # a moving average of each endpoint's attempt duration
        unrecorded: list[Done] = []
        last_sweep, last_record = 0.0, time.monotonic()
        late: list[Work] = []  # claimed, but too near the end of the lease to be sent

        def room(endpoint_id: str) -> int:
            # Fast receivers get a deeper local queue (fewer, larger claims); a slow or dead
            # one only what its slots finish within a quarter of the lease.
            per_slot = self.lease.total_seconds() / 4 / max(seconds.get(endpoint_id, 0.01), 0.001)
            depth = self.per_endpoint * int(min(max(per_slot, 1), 64))
            have = inflight[endpoint_id] + len(waiting[endpoint_id])
            return depth - have if have <= depth // 2 else 0

        with ThreadPoolExecutor(self.threads, thread_name_prefix="assent-webhooks") as pool:
            while True:
                arrived = _drain(results)
                for done in arrived:
                    endpoint_id = done.claimed.endpoint_id
                    inflight[endpoint_id] -= 1
                    took = done.result.duration_ms / 1000
                    seconds[endpoint_id] = 0.7 * seconds.get(endpoint_id, took) + 0.3 * took
                unrecorded += arrived
                try:
                    flush = len(unrecorded) >= 500 or time.monotonic() - last_record >= 0.1
                    if unrecorded and (flush or stop.is_set() or sum(inflight.values()) == 0):
                        self._record(unrecorded)
                        unrecorded, last_record = [], time.monotonic()
                        self._nothing_due_at = -1e9  # a recorded result may have made a lane's next row due
                    if stop.is_set():
                        break
                    fanned = self.fan_out()
                    if time.monotonic() - last_sweep > 30:
                        self.sweep()
                        last_sweep = time.monotonic()
                    claimed = self._claim(room)
                    self._release(late)
                    late = []
                except Exception:  # a database outage must not end the loop
                    if until_idle:
                        raise
                    log.exception("webhook dispatcher %s: a round failed", self.owner)
                    stop.wait(self.poll)
                    continue
                for work in claimed:
                    waiting[work.claimed.endpoint_id].append(work)
                sent = self._submit(pool, results, inflight, waiting, late)
                busy = bool(arrived or fanned or claimed or sent)
                idle = not unrecorded and sum(inflight.values()) == 0 and not any(waiting.values())
                if until_idle and not busy and idle:
                    break
                if not busy:
                    with contextlib.suppress(queue.Empty):
                        results.put(results.get(timeout=0.05 if unrecorded else self.poll))
            self._release(late + [w for q in waiting.values() for w in q])  # hand back what was not sent
        self._record(unrecorded + _drain(results))  # the pool has finished what it had
        self.sender.close()

    def run_until_idle(self) -> None:
        self.run(threading.Event(), until_idle=True)

    def _submit(
        self,
        pool: ThreadPoolExecutor,
        results: queue.Queue[Done],
        inflight: collections.Counter[str],
        waiting: dict[str, collections.deque[Work]],
        late: list[Work],
    ) -> int:
        sent = 0
        for endpoint_id, items in waiting.items():
            while items and inflight[endpoint_id] < self.per_endpoint and sum(inflight.values()) < self.threads:
                work = items.popleft()
                if self._too_late(work):
                    late.append(work)
                    continue
                inflight[endpoint_id] += 1
                pool.submit(self._attempt, results, work)
                sent += 1
        return sent

    def _too_late(self, work: Work) -> bool:
        """An attempt must end inside its lease, or a second worker could start it too."""
        return work.lease_until - self.clock() < dt.timedelta(seconds=self.sender.timeout + 0.25)

    def _release(self, works: list[Work]) -> None:
        """Give back leased rows this worker will not attempt (so others need not wait out the lease)."""
        if not works:
            return
        d = t.webhook_deliveries
        with self.db.write() as conn:
            for work in works:
                item = work.claimed
                conn.execute(
                    sa.update(d)
                    .where(d.c.endpoint_id == item.endpoint_id, d.c.event_id == item.event_id)
                    .where(d.c.lease_owner == self.owner, d.c.attempts == item.attempts)
                    .values(lease_owner=None, lease_until=None)
                )

    def _attempt(self, results: queue.Queue[Done], work: Work) -> None:
        item, at = work.claimed, self.clock()
        try:
            result = self.sender.post(work.url, work.body, sign(work.secrets, str(item.event_id), at, work.body))
        except Exception as error:  # never lose a result: an unexpected error is a failed attempt
            log.exception("webhook attempt failed unexpectedly")
            result = Result(None, f"{type(error).__name__}: {error}"[:500], None, 0)
        results.put(Done(item, at, result))

    # --- 1. fan-out -----------------------------------------------------------------------

    def fan_out(self) -> int:
        """Publish the oldest unpublished outbox rows to the endpoints that want them."""
        o, d = t.outbox, t.webhook_deliveries
        if time.monotonic() - self._outbox_empty_at < self._throttle:  # looked a moment ago: nothing new yet
            return 0
        with self.db.read() as conn:
            waiting = conn.execute(sa.select(o.c.event_id).where(o.c.published_at.is_(None)).limit(1)).first()
        if waiting is None:
            self._outbox_empty_at = time.monotonic()
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

    def _claim(self, room: Callable[[str], int]) -> list[Work]:
        now = self.clock()
        d, w = t.webhook_deliveries, t.webhook_endpoints
        p = d.alias("earlier")
        if time.monotonic() - self._endpoints_read > 1.0:  # endpoints change rarely: re-read each second
            with self.db.read() as conn:
                self._endpoints = {row.id: row for row in conn.execute(sa.select(w).where(w.c.enabled.is_(True)))}
            self._endpoints_read = time.monotonic()
        endpoints = self._endpoints
        wants = {endpoint_id: room(endpoint_id) for endpoint_id in endpoints}
        if not any(n > 0 for n in wants.values()) or time.monotonic() - self._nothing_due_at < self._throttle:
            return []
        with self.db.read() as conn:
            candidates: dict[str, list[int]] = {}
            for endpoint_id, wanted in wants.items():
                if wanted <= 0:
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
                    .limit(wanted * 2)
                ).scalars().all()
                if ids:
                    # Heads of different lanes are independent: take a random `wanted` of
                    # the oldest, so that workers racing for the same rows mostly do not collide.
                    candidates[endpoint_id] = sorted(self.rng.sample(list(ids), min(wanted, len(ids))))
        if not candidates:
            self._nothing_due_at = time.monotonic()
            return []
        claimed: list[Claimed] = []
        lease_until = now + self.lease
        with self.db.write() as conn:
            for endpoint_id, ids in candidates.items():
                rows = conn.execute(
                    sa.update(d)
                    .where(d.c.endpoint_id == endpoint_id, d.c.event_id.in_(ids), d.c.state == PENDING)
                    .where(_lease_free(now))
                    # the endpoint list is cached for a second: the claim itself checks it is enabled
                    .where(d.c.endpoint_id.in_(sa.select(w.c.id).where(w.c.enabled.is_(True))))
                    .values(lease_owner=self.owner, lease_until=lease_until)
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
            work.append(Work(item, endpoint.url, signing_secrets(endpoint, now), body, lease_until))
        return work

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
            was_failing = dict(failing)
            last_error: dict[str, str] = {}
            attempts: list[dict[str, Any]] = []
            delivered = _record_delivered(conn, [f for f in finished if rules.succeeded(f.result.status_code)],
                                          self.owner, now)
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
                if ok:
                    moved = 1 if (item.endpoint_id, item.event_id) in delivered else 0
                else:
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
                if outcome is AttemptOutcome.GAVE_UP:
                    _hand_on(conn, item, now)
                if outcome is AttemptOutcome.GAVE_UP:
                    self.gave_up += 1
                    log.warning(
                        "webhook %s: gave up on event %d after %d attempts since %s: %s",
                        item.endpoint_id, item.event_id, item.attempts + 1, first.isoformat(), result.error,
                    )
            self.db.bulk_insert(conn, a, attempts)
            for endpoint_id, since in failing.items():
                if since != was_failing.get(endpoint_id):
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


def _record_delivered(conn: sa.Connection, done: list[Done], owner: str, now: dt.datetime) -> set[tuple[str, int]]:
    """The delivered ones, set-based: a few statements per endpoint, not per event. Returns
    the rows that were still ours; their lanes' next rows become due."""
    d = t.webhook_deliveries
    moved: set[tuple[str, int]] = set()
    groups: dict[tuple[str, int | None], list[Done]] = collections.defaultdict(list)
    for item in done:
        groups[(item.claimed.endpoint_id, item.result.status_code)].append(item)
    for (endpoint_id, status), items in groups.items():
        for chunk in _chunks(items, 500):
            rows = conn.execute(
                sa.update(d)
                .where(d.c.endpoint_id == endpoint_id, d.c.event_id.in_([i.claimed.event_id for i in chunk]))
                .where(d.c.state == PENDING, d.c.lease_owner == owner)
                .values(
                    state=DeliveryState.DELIVERED.value,
                    attempts=d.c.attempts + 1,
                    first_attempt_at=sa.func.coalesce(d.c.first_attempt_at, now),
                    last_status_code=status,
                    last_error=None,
                    lease_owner=None,
                    lease_until=None,
                    next_attempt_at=None,
                    finished_at=now,
                )
                .returning(d.c.event_id, d.c.address_hash)
            ).all()
            moved.update((endpoint_id, r.event_id) for r in rows)
            hashes = sorted({r.address_hash for r in rows})
            if not hashes:
                continue
            following = conn.execute(
                sa.select(sa.func.min(d.c.event_id))
                .where(d.c.endpoint_id == endpoint_id, d.c.state == PENDING, d.c.address_hash.in_(hashes))
                .group_by(d.c.address_hash)
            ).scalars().all()
            if following:
                conn.execute(
                    sa.update(d)
                    .where(d.c.endpoint_id == endpoint_id, d.c.event_id.in_(list(following)))
                    .where(d.c.next_attempt_at.is_(None))
                    .values(next_attempt_at=now)
                )
    return moved


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


def _chunks(items: list[T], size: int) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
