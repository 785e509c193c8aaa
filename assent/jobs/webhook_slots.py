"""The sending side of the webhook dispatcher: claimed rows waiting per endpoint, taken by
the sending threads themselves (jobs/dispatcher.py fills it and records what comes back)."""

from __future__ import annotations

import collections
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass

from assent.domain import webhooks as rules
from assent.jobs.webhook_sender import Result


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


class Slots:
    """Claimed work waiting per endpoint, and how many attempts each endpoint has in flight.

    The sending threads take the next item themselves, round robin over the endpoints, at
    most `per_endpoint` at a time per endpoint — and only one while the endpoint's last
    attempt failed (a circuit: a dead receiver holds one thread per worker, probing, never
    the pool). Lanes are independent here: a claim never holds two rows of one lane."""

    def __init__(self, per_endpoint: int, too_late: Callable[[Work], bool]) -> None:
        self.per_endpoint = per_endpoint
        self.too_late = too_late
        self._cond = threading.Condition()
        self._waiting: dict[str, collections.deque[Work]] = collections.defaultdict(collections.deque)
        self._inflight: collections.Counter[str] = collections.Counter()
        self._failing: set[str] = set()
        self._seconds: dict[str, float] = {}  # a moving average of each endpoint's attempt duration
        self._results: list[Done] = []
        self._late: list[Work] = []  # claimed, but too near the end of the lease to be sent
        self._closed = False
        self._turn = 0

    def _limit(self, endpoint_id: str) -> int:
        return 1 if endpoint_id in self._failing else self.per_endpoint

    def room(self, endpoint_id: str, lease_seconds: float) -> int:
        """How many more rows to claim for this endpoint: fast receivers get a deep local
        queue (fewer, larger claims); a slow or dead one what its slots finish within a
        quarter of the lease."""
        with self._cond:
            per_slot = lease_seconds / 4 / max(self._seconds.get(endpoint_id, 0.01), 0.001)
            depth = self._limit(endpoint_id) * int(min(max(per_slot, 1), 256))
            have = self._inflight[endpoint_id] + len(self._waiting[endpoint_id])
            return depth - have if have <= depth // 2 else 0

    def add(self, works: list[Work]) -> None:
        if not works:
            return
        with self._cond:
            for work in works:
                self._waiting[work.claimed.endpoint_id].append(work)
            self._cond.notify(len(works))

    def take(self) -> Work | None:
        """The next item to send, or None once closed."""
        with self._cond:
            while not self._closed:
                endpoints = list(self._waiting)
                for n in range(len(endpoints)):
                    endpoint_id = endpoints[(self._turn + n) % len(endpoints)]
                    items = self._waiting[endpoint_id]
                    while items and self._inflight[endpoint_id] < self._limit(endpoint_id):
                        work = items.popleft()
                        if self.too_late(work):
                            self._late.append(work)
                            continue
                        self._inflight[endpoint_id] += 1
                        self._turn += n + 1
                        return work
                self._cond.wait(0.5)
            return None

    def finish(self, done: Done) -> None:
        endpoint_id = done.claimed.endpoint_id
        took = done.result.duration_ms / 1000
        with self._cond:
            self._inflight[endpoint_id] -= 1
            self._seconds[endpoint_id] = 0.7 * self._seconds.get(endpoint_id, took) + 0.3 * took
            recovered = endpoint_id in self._failing and rules.succeeded(done.result.status_code)
            if rules.succeeded(done.result.status_code):
                self._failing.discard(endpoint_id)
            else:
                self._failing.add(endpoint_id)
            self._results.append(done)
            if self._waiting[endpoint_id]:  # slots of an endpoint with work waiting are free
                self._cond.notify(self.per_endpoint if recovered else 1)

    def results(self) -> list[Done]:
        with self._cond:
            found, self._results = self._results, []
            return found

    def take_late(self) -> list[Work]:
        with self._cond:
            found, self._late = self._late, []
            return found

    def take_waiting(self) -> list[Work]:
        with self._cond:
            found = [w for items in self._waiting.values() for w in items]
            self._waiting.clear()
            return found

    def inflight_total(self) -> int:
        with self._cond:
            return sum(self._inflight.values())

    def idle(self) -> bool:
        with self._cond:
            return not self._results and not sum(self._inflight.values()) and not any(self._waiting.values())

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
