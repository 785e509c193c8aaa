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
   PostgreSQL serializes it with a concurrent completion of the lane's head. The rows that
   are due at once are written leased to this worker, as many as its queues have room
   for, and go straight to the sending threads: a backlog is never claimed row by row.
2. **Claim.** Per enabled endpoint, the due lane heads (no earlier PENDING row in their
   lane) are leased by compare-and-set on `lease_until`, in one statement (on PostgreSQL
   `FOR UPDATE SKIP LOCKED`, so concurrent workers skip each other's rows): retries, rows
   whose turn came, rows the fan-out had no room for, and rows of a worker that died.
3. **Deliver and record.** Sending threads take claimed rows from per-endpoint queues
   (`Slots`), at most `per_endpoint` at a time per endpoint and one while it is failing: a
   dead receiver holds one thread, never all of them. The loop records results
   in batches: delivered, or a retry after `retry_delay`, or — after three days — given up.
   Leaving PENDING makes the lane's next row due. Recording checks the lease is still ours.

A worker killed after sending but before recording sends the event again once its lease
has run out (at least once; receivers deduplicate on `webhook-id`, the ledger event id).
Time comes from `clock`, so tests can jump three days. The lanes' statements are in
jobs/webhook_lanes.py, the sending threads' queues in jobs/webhook_slots.py, one POST in
jobs/webhook_sender.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from assent.domain import webhooks as rules
from assent.domain.webhooks import AttemptOutcome, DeliveryState
from assent.jobs import webhook_lanes as lanes
from assent.jobs.queue import default_owner
from assent.jobs.webhook_sender import Result, Sender, body_of, sign
from assent.jobs.webhook_slots import Claimed, Done, Slots, Work
from assent.services.events import public_events
from assent.services.webhooks import signing_secrets
from assent.storage import tables as t
from assent.storage.db import Database

log = logging.getLogger("assent.webhooks")
_OUTCOME = {outcome: outcome.value for outcome in AttemptOutcome}  # a dict look-up, not an enum property
PENDING = DeliveryState.PENDING.value
Clock = Callable[[], dt.datetime]


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
        threads: int = 32,
        per_endpoint: int = 8,
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
        self._fanned_full_at = -1e9
        self._inserted = 0  # delivery rows this dispatcher wrote since it last analyzed the table
        self._analyzed_at_size = 0
        self._nothing_due_at = -1e9
        self._throttle = 0.05
        #: what this dispatcher did (logs, tests)
        self.delivered = 0
        self.failed = 0
        self.gave_up = 0

    # --- the loop -------------------------------------------------------------------------

    def run(self, stop: threading.Event, *, until_idle: bool = False) -> None:
        """Dispatch until `stop` is set (or, with `until_idle`, until nothing is due).

        This loop only talks to the database: it records results in batches (one transaction
        per up to 1000 results or 100 ms), fans out and claims. Claimed rows wait in a local
        queue per endpoint (`Slots`), from which the sending threads take the next one
        themselves, so a send never waits for a commit and a commit never for a send."""
        # Looking again within 50 ms of finding nothing is skipped — except when running until
        # idle, where "nothing" must mean nothing.
        self._throttle = 0.0 if until_idle else 0.05
        slots = Slots(self.per_endpoint, self._too_late)
        unrecorded: list[Done] = []
        lease_seconds = self.lease.total_seconds()
        last_sweep, last_record = 0.0, time.monotonic()
        threads = [
            threading.Thread(target=self._send_loop, args=(slots,), name=f"assent-webhooks-{n}", daemon=True)
            for n in range(self.threads)
        ]
        for thread in threads:
            thread.start()
        try:
            while True:
                arrived = slots.results()
                unrecorded += arrived
                try:
                    flush = len(unrecorded) >= 1000 or time.monotonic() - last_record >= 0.1
                    if unrecorded and (flush or stop.is_set() or slots.inflight_total() == 0):
                        self._record(unrecorded)
                        unrecorded, last_record = [], time.monotonic()
                        self._nothing_due_at = -1e9  # a recorded result may have made a lane's next row due
                    if stop.is_set():
                        break
                    fanned, leased = self.fan_out(lambda endpoint_id: slots.room(endpoint_id, lease_seconds))
                    slots.add(leased)  # before the claim asks how much room is left
                    if time.monotonic() - last_sweep > 30:
                        self.sweep()
                        last_sweep = time.monotonic()
                    claimed = self._claim(lambda endpoint_id: slots.room(endpoint_id, lease_seconds))
                    self._release(slots.take_late())
                except Exception:  # a database outage must not end the loop
                    if until_idle:
                        raise
                    log.exception("webhook dispatcher %s: a round failed", self.owner)
                    stop.wait(self.poll)
                    continue
                slots.add(claimed)
                busy = bool(arrived or fanned or claimed)
                if until_idle and not busy and not unrecorded and slots.idle():
                    break
                if not busy:  # results arrive meanwhile; they are recorded within 100 ms
                    stop.wait(0.02 if unrecorded or not slots.idle() else self.poll)
        finally:
            slots.close()  # the threads finish what they are sending, and start nothing new
            for thread in threads:
                thread.join()
            self._release(slots.take_late() + slots.take_waiting())  # hand back what was not sent
            self._record(unrecorded + slots.results())
            self.sender.close()

    def run_until_idle(self) -> None:
        self.run(threading.Event(), until_idle=True)

    def _send_loop(self, slots: Slots) -> None:
        while (work := slots.take()) is not None:
            slots.finish(self._attempt(work))

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

    def _attempt(self, work: Work) -> Done:
        item, at = work.claimed, self.clock()
        try:
            result = self.sender.post(work.url, work.body, sign(work.secrets, str(item.event_id), at, work.body))
        except Exception as error:  # never lose a result: an unexpected error is a failed attempt
            log.exception("webhook attempt failed unexpectedly")
            result = Result(None, f"{type(error).__name__}: {error}"[:500], None, 0)
        return Done(item, at, result)

    # --- 1. fan-out -----------------------------------------------------------------------

    def fan_out(self, room: Callable[[str], int] = lambda _endpoint_id: 0) -> tuple[int, list[Work]]:
        """Publish the oldest unpublished outbox rows to the endpoints that want them.

        The rows that are due at once (their lane has no earlier PENDING row) are leased to
        this worker in the same insert, up to `room` per enabled endpoint, and returned
        ready to send: a backlog's rows are then written once and updated once (when their
        result is recorded), never claimed. While no endpoint has room, only what room there
        is is taken (or a full batch once a second, so that publishing never stops)."""
        o, d = t.outbox, t.webhook_deliveries
        if time.monotonic() - self._outbox_empty_at < self._throttle:  # looked a moment ago: nothing new yet
            return 0, []
        rooms = {endpoint_id: room(endpoint_id) for endpoint_id in self._enabled_endpoints()}
        size = self.fan_out_size
        if rooms and time.monotonic() - self._fanned_full_at < 1.0:
            size = min(size, max(rooms.values()))
            if size <= 0:
                return 0, []
        else:
            self._fanned_full_at = time.monotonic()
        with self.db.read() as conn:
            waiting = conn.execute(sa.select(o.c.event_id).where(o.c.published_at.is_(None)).limit(1)).first()
        if waiting is None:
            self._outbox_empty_at = time.monotonic()
            return 0, []
        now = self.clock()
        lease_until = now + self.lease
        leased: list[tuple[Any, Claimed]] = []
        with self.db.write() as conn:
            oldest = sa.select(o.c.event_id).where(o.c.published_at.is_(None)).order_by(o.c.event_id)
            taken = list(
                conn.execute(
                    sa.update(o)
                    .where(o.c.published_at.is_(None), o.c.event_id.in_(oldest.limit(size).scalar_subquery()))
                    .values(published_at=now)
                    .returning(o.c.event_id, o.c.address_hash)
                )
            )
            if not taken:
                return 0, []
            w = t.webhook_endpoints
            endpoints = conn.execute(sa.select(w)).all()
            if not endpoints:  # published to no one: no event to read and build
                return len(taken), []
            taken.sort(key=lambda row: row.event_id)
            events = public_events(conn, [r.event_id for r in taken])
            # which endpoints want each kind: asked once per kind, not once per event
            takers: dict[str, list[Any]] = {}
            for kind in {event["kind"] for event in events.values()}:
                takers[kind] = [ep for ep in endpoints if rules.wants(ep.event_types, kind)]
            wanted = [
                (row, endpoint)
                for row in taken
                for endpoint in takers[events[row.event_id]["kind"]]
                if row.event_id > endpoint.start_after
            ]
            if not wanted:
                return len(taken), []
            busy = lanes.busy_lanes(conn, {ep.id for _, ep in wanted}, {row.address_hash for row, _ in wanted})
            left = {ep.id: rooms.get(ep.id, 0) if ep.enabled else 0 for ep in endpoints}
            rows = []
            for row, endpoint in wanted:
                lane = (endpoint.id, row.address_hash)
                due = lane not in busy
                lease = due and left[endpoint.id] > 0
                rows.append(
                    {
                        "endpoint_id": endpoint.id,
                        "event_id": row.event_id,
                        "address_hash": row.address_hash,
                        "state": PENDING,
                        "attempts": 0,
                        "next_attempt_at": now if due else None,
                        "lease_owner": self.owner if lease else None,
                        "lease_until": lease_until if lease else None,
                        "created_at": now,
                    }
                )
                busy.add(lane)
                if lease:
                    left[endpoint.id] -= 1
                    leased.append((endpoint, Claimed(endpoint.id, row.event_id, row.address_hash, 0, None)))
            self.db.bulk_insert(conn, d, rows)
        self._inserted += len(rows)
        self._analyze_if_grown()
        bodies = _bodies(events, {item.event_id for _, item in leased})
        secrets = {endpoint.id: signing_secrets(endpoint, now) for endpoint in endpoints}
        work = [
            Work(item, endpoint.url, secrets[endpoint.id], bodies[item.event_id], lease_until)
            for endpoint, item in leased
        ]
        return len(taken), work

    def _analyze_if_grown(self) -> None:
        """PostgreSQL: refresh `webhook_deliveries`' statistics each time this dispatcher has
        written as many rows as the table had at the last refresh (10,000 at least). A backlog
        grows the table from nothing faster than autovacuum's analyze follows (up to a
        minute behind), and with the statistics of a nearly empty table the planner scans
        every PENDING row of the endpoint to record a batch of results instead of probing
        the primary key: tens of milliseconds per batch at 30,000 rows, more as it grows.
        An ANALYZE samples the table (a few tens of milliseconds), a handful of times per
        backlog."""
        if self.db.is_sqlite or self._inserted < max(10_000, self._analyzed_at_size):
            return
        with self.db.write() as conn:
            conn.exec_driver_sql("ANALYZE webhook_deliveries")
            self._analyzed_at_size = conn.execute(
                sa.text("SELECT reltuples::bigint FROM pg_class WHERE oid = 'webhook_deliveries'::regclass")
            ).scalar_one()
        self._inserted = 0

    def _enabled_endpoints(self) -> dict[str, Any]:
        """The enabled endpoints, read again each second (they change rarely; the claim and
        the fan-out check `enabled` in their own statements)."""
        w = t.webhook_endpoints
        if time.monotonic() - self._endpoints_read > 1.0:
            with self.db.read() as conn:
                self._endpoints = {row.id: row for row in conn.execute(sa.select(w).where(w.c.enabled.is_(True)))}
            self._endpoints_read = time.monotonic()
        return self._endpoints

    def sweep(self) -> int:
        """Make due any waiting row whose lane has no earlier PENDING row (a safety net: the
        fan-out and the completion of a lane's head already hand the turn on)."""
        d = t.webhook_deliveries
        p = d.alias("earlier")
        with self.db.write() as conn:
            return conn.execute(
                sa.update(d)
                .where(d.c.state == PENDING, d.c.next_attempt_at.is_(None), lanes.lane_head(d, p))
                .values(next_attempt_at=self.clock())
            ).rowcount

    # --- 2. claim -------------------------------------------------------------------------

    def _claim(self, room: Callable[[str], int]) -> list[Work]:
        now = self.clock()
        d, w = t.webhook_deliveries, t.webhook_endpoints
        p = d.alias("earlier")
        endpoints = self._enabled_endpoints()
        wants = {endpoint_id: room(endpoint_id) for endpoint_id in endpoints}
        if not any(n > 0 for n in wants.values()) or time.monotonic() - self._nothing_due_at < self._throttle:
            return []
        due = sa.and_(d.c.state == PENDING, d.c.next_attempt_at <= now, lanes.lease_free(now))
        if self._nothing_due_at > 0:  # found nothing last time: look before taking the write lock
            with self.db.read() as conn:
                if conn.execute(sa.select(d.c.event_id).where(due).limit(1)).first() is None:
                    self._nothing_due_at = time.monotonic()
                    return []
        claimed: list[Claimed] = []
        lease_until = now + self.lease
        h = d.alias("head")
        with self.db.write() as conn:
            for endpoint_id, wanted in wants.items():
                if wanted <= 0:
                    continue
                # The due lane heads, oldest first, in one statement. On PostgreSQL rows that
                # another worker is claiming (or a fan-out is touching) are skipped, not waited
                # for; the lease compare-and-set below is what guarantees one attempt at a time.
                heads = (
                    sa.select(h.c.event_id if self.db.is_sqlite else sa.literal_column("head.ctid"))
                    .where(h.c.endpoint_id == endpoint_id, h.c.state == PENDING, h.c.next_attempt_at <= now)
                    .where(sa.or_(h.c.lease_until.is_(None), h.c.lease_until < now), lanes.lane_head(h, p))
                    .order_by(h.c.next_attempt_at, h.c.event_id)
                    .limit(wanted)
                    .with_for_update(skip_locked=True)
                    .scalar_subquery()
                )
                rows = conn.execute(
                    sa.update(d)
                    .where(lanes.heads(self.db, endpoint_id, heads))
                    .where(d.c.state == PENDING, lanes.lease_free(now))
                    # the endpoint list is cached for a second: the claim itself checks it is enabled
                    .where(d.c.endpoint_id.in_(sa.select(w.c.id).where(w.c.enabled.is_(True))))
                    .values(lease_owner=self.owner, lease_until=lease_until)
                    .returning(d.c.event_id, d.c.address_hash, d.c.attempts, d.c.first_attempt_at)
                ).all()
                claimed += [Claimed(endpoint_id, *r) for r in rows]
            if not claimed:
                self._nothing_due_at = time.monotonic()
                return []
            self._nothing_due_at = -1e9
            events = public_events(conn, sorted({c.event_id for c in claimed}))
        claimed.sort(key=lambda c: c.event_id)
        bodies = _bodies(events, {item.event_id for item in claimed})
        secrets = {endpoint_id: signing_secrets(endpoints[endpoint_id], now) for endpoint_id in wants}
        return [
            Work(item, endpoints[item.endpoint_id].url, secrets[item.endpoint_id], bodies[item.event_id], lease_until)
            for item in claimed
        ]

    # --- 3. record ------------------------------------------------------------------------

    def _record(self, finished: list[Done]) -> None:
        if not finished:
            return
        now = self.clock()
        d, w, a = t.webhook_deliveries, t.webhook_endpoints, t.webhook_attempts
        with self.db.write() as conn:
            endpoint_ids = {done.claimed.endpoint_id for done in finished}
            all_ok = all(rules.succeeded(f.result.status_code) for f in finished)
            if all_ok:  # the common case, in one statement: these endpoints are not failing
                conn.execute(
                    sa.update(w)
                    .where(w.c.id.in_(sorted(endpoint_ids)), w.c.failing_since.is_not(None))
                    .values(failing_since=None)
                )
            failing: dict[str, dt.datetime | None] = (
                {}
                if all_ok
                else {
                    r.id: r.failing_since
                    for r in conn.execute(sa.select(w.c.id, w.c.failing_since).where(w.c.id.in_(endpoint_ids)))
                }
            )
            was_failing = dict(failing)
            last_error: dict[str, str] = {}
            attempts: list[dict[str, Any]] = []
            delivered = lanes.record_delivered(
                conn, [f for f in finished if rules.succeeded(f.result.status_code)], self.owner, now
            )
            for done in finished:
                item, result = done.claimed, done.result
                ok = rules.succeeded(result.status_code)
                first = item.first_attempt_at or done.at
                next_at: dt.datetime | None = None
                if ok:  # recorded above, set-based
                    outcome = AttemptOutcome.DELIVERED
                    moved = 1 if (item.endpoint_id, item.event_id) in delivered else 0
                else:
                    values: dict[str, Any] = {
                        "attempts": item.attempts + 1,
                        "first_attempt_at": first,
                        "last_status_code": result.status_code,
                        "last_error": result.error,
                        "lease_owner": None,
                        "lease_until": None,
                    }
                    if rules.gives_up(first, now):
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
                        "outcome": _OUTCOME[outcome],
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
                    if not all_ok:
                        failing[item.endpoint_id] = None
                else:
                    self.failed += 1
                    failing[item.endpoint_id] = failing.get(item.endpoint_id) or done.at
                    last_error[item.endpoint_id] = result.error or "failed"
                if outcome is AttemptOutcome.GAVE_UP:
                    lanes.hand_on(conn, item, now)
                if outcome is AttemptOutcome.GAVE_UP:
                    self.gave_up += 1
                    log.warning(
                        "webhook %s: gave up on event %d after %d attempts since %s: %s",
                        item.endpoint_id,
                        item.event_id,
                        item.attempts + 1,
                        first.isoformat(),
                        result.error,
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


def _bodies(events: dict[int, dict[str, Any]], ids: set[int]) -> dict[int, bytes]:
    """Each event's payload, once per event however many endpoints receive it."""
    found = {}
    for event_id in ids:
        data = events[event_id]
        found[event_id] = body_of(rules.event_type(data["kind"]).value, data["at"], data)
    return found
