"""The job worker: claim a job, run it chunk by chunk, each chunk one write transaction.

Several workers (threads, processes, machines) may run against one database; the lease in
`queue` makes sure only one of them works on a job at a time, and the per-chunk
compare-and-set that no chunk is ever applied twice. A worker that is stopped finishes its
current chunk and hands the job back; one that is killed loses only its uncommitted chunk,
which the next worker does again once the lease has run out.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from sqlalchemy.engine import Connection

from assent.config import Settings
from assent.jobs import queue
from assent.jobs.dispatcher import Dispatcher
from assent.jobs.queue import Job, Target, default_owner
from assent.mail import mailer_for
from assent.mail.queue import MailSender
from assent.storage import tables as t
from assent.storage.db import Database

log = logging.getLogger("assent.jobs")

#: Applies one chunk in the caller's transaction and returns its outcome rows
#: (`seq`, `subscription_type_id`, `address`, `outcome`, `reason`). It must make at most
#: one `Writer` call: a second one would lock addresses while holding the ledger counter,
#: which other writers take in the opposite order.
ChunkHandler = Callable[[Database, Connection, Job, list[Target]], list[dict[str, Any]]]
#: The same for a job whose targets are not `job_targets` rows (an import's file lines):
#: it is handed the range of sequence numbers (after, through] and reads them itself.
RangeHandler = Callable[[Database, Connection, Job, int, int], list[dict[str, Any]]]

HANDLERS: dict[str, RangeHandler] = {}

#: Modules that `register` a kind of job when imported (a new kind of job adds its own).
KIND_MODULES = ("assent.jobs.bulk", "assent.jobs.imports", "assent.jobs.workflows")

#: Claims of a job (by any worker) after which a failing chunk fails the job for good.
MAX_ATTEMPTS = 5

#: Targets per chunk (one write transaction), by backend. A chunk's addresses are spread over
#: the per-address indexes, so most of its index pages are its own. On SQLite a 1,000-target
#: chunk of a workflow enrollment wrote 4.8 MB of WAL, nearly a page per change, and wrote
#: the pages again at the next chunk; at 5,000 a 100,000-contact enrollment writes a third
#: less (980 → 666 MB, checkpoints included), and a chunk still holds SQLite's one write lock
#: for well under a second. On PostgreSQL every writer queues on the ledger counter row from
#: a chunk's first ledger append to its commit (docs/SCALING.md): smaller chunks keep that
#: wait short, and larger ones saved only ~6 % of the CPU.
CHUNK_SIZES = {"sqlite": 5000, "postgresql": 1000}


@dataclass
class Periodic:
    """Work the worker does every `every` seconds besides jobs (a ledger checkpoint), first
    when it starts. A failure is logged and tried again at the next interval."""

    name: str
    every: float
    run: Callable[[], object]
    due: float = 0.0  # time.monotonic() of the next run


class JobFailed(Exception):
    """A job that cannot succeed however often it is retried (its parameters no longer hold)."""


def register(kind: str, handler: Any, *, ranged: bool = False) -> None:
    """`handler` is a ChunkHandler, or with `ranged` a RangeHandler."""
    if ranged:
        HANDLERS[kind] = handler
        return

    def on_targets(db: Database, conn: Connection, job: Job, after: int, through: int) -> list[dict[str, Any]]:
        return handler(db, conn, job, queue.targets(conn, job.id, after, through))  # type: ignore[no-any-return]

    HANDLERS[kind] = on_targets


@dataclass
class Worker:
    db: Database
    owner: str = field(default_factory=default_owner)
    lease: dt.timedelta = dt.timedelta(seconds=30)
    #: targets per chunk; 0: the backend's own (CHUNK_SIZES)
    chunk_size: int = 0
    #: seconds between polls of an empty queue
    poll: float = 0.5
    #: seconds to rest between chunks, leaving the (SQLite) write lock to other writers
    pause: float = 0.0
    #: seconds before the first retry of a failed chunk; doubled on every further attempt
    retry_after: float = 2.0
    #: what this worker did, for logs and tests: chunks committed per job, leases lost to
    #: another worker, chunks that failed
    chunks: dict[str, int] = field(default_factory=dict)
    leases_lost: int = 0
    failures: int = 0
    #: periodic work beside the jobs (see `Periodic`)
    periodic: list[Periodic] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.chunk_size = self.chunk_size or CHUNK_SIZES.get(self.db.engine.dialect.name, 1000)
        for module in KIND_MODULES:
            importlib.import_module(module)

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set."""
        log.info("job worker %s started", self.owner)
        while not stop.is_set():
            self.run_periodic()
            try:
                busy = self.work_once(stop)
            except Exception:  # a database outage must not end the loop
                log.exception("job worker %s: polling failed", self.owner)
                busy = False
            if not busy:
                stop.wait(self.poll)
        log.info("job worker %s stopped", self.owner)

    def run_periodic(self) -> None:
        now = time.monotonic()
        for task in self.periodic:
            if task.every <= 0 or now < task.due:
                continue
            task.due = now + task.every
            try:
                task.run()
            except Exception:
                log.exception("job worker %s: %s failed", self.owner, task.name)

    def run_until_idle(self, stop: threading.Event | None = None) -> None:
        """Work until no job is waiting (tests, `assent worker --once`)."""
        stop = stop or threading.Event()
        while not stop.is_set() and self.work_once(stop):
            pass

    def work_once(self, stop: threading.Event) -> bool:
        """Claim one waiting job and run it. False when there was nothing to claim."""
        with self.db.read() as conn:
            candidates = queue.claimable(conn, t.now())
        for job_id in candidates:
            job = queue.claim(self.db, job_id, self.owner, self.lease)
            if job is not None:
                self._run(job, stop)
                return True
        return False

    def _run(self, job: Job, stop: threading.Event) -> None:
        handler = HANDLERS.get(job.kind)
        if handler is None:
            queue.note_error(self.db, job.id, self.owner, f"unknown job kind {job.kind}", final=True)
            return
        log.info("job %s: %s from %d of %d (attempt %d)", job.id, job.kind, job.done, job.total, job.attempts)
        try:
            while job.done < job.total:
                if stop.is_set():
                    queue.release(self.db, job.id, self.owner)
                    return
                advanced = self._chunk(job, handler)
                if advanced is None:
                    log.warning("job %s: lease lost to another worker", job.id)
                    self.leases_lost += 1
                    return
                job = advanced
                if self.pause:
                    stop.wait(self.pause)
            if job.total == 0:
                queue.finish_empty(self.db, job, self.owner)
        except JobFailed as error:
            self.failures += 1
            queue.note_error(self.db, job.id, self.owner, str(error), final=True)
        except Exception as error:
            self.failures += 1
            log.exception("job %s failed (attempt %d)", job.id, job.attempts)
            queue.note_error(
                self.db,
                job.id,
                self.owner,
                f"{type(error).__name__}: {error}",
                final=job.attempts >= MAX_ATTEMPTS,
                retry_after=dt.timedelta(seconds=self.retry_after * 2 ** (job.attempts - 1)),
            )
        else:
            log.info("job %s: finished", job.id)

    def _chunk(self, job: Job, handler: RangeHandler) -> Job | None:
        new_done = min(job.done + self.chunk_size, job.total)
        with self.db.write() as conn:
            if not queue.advance(conn, job, self.owner, new_done, self.lease):
                return None
            outcomes = handler(self.db, conn, job, job.done, new_done)
            self.db.bulk_insert(conn, t.job_outcomes, [{"job_id": job.id, **row} for row in outcomes])
            queue.record(conn, job, outcomes, finished=new_done == job.total)
        self.chunks[job.id] = self.chunks.get(job.id, 0) + 1
        return Job(job.id, job.kind, job.params, job.total, new_done, job.attempts)


def loops(
    db: Database,
    settings: Settings | None,
    delivery_lease: dt.timedelta = dt.timedelta(seconds=60),
    **options: Any,
) -> dict[str, Callable[[threading.Event], None]]:
    """What a worker runs, each in its own thread: the job worker, and — given settings —
    the webhook dispatcher and the mail queue's sender."""
    found: dict[str, Callable[[threading.Event], None]] = {"assent-jobs": Worker(db, **options).run}
    if settings is not None:
        dispatcher = Dispatcher(
            db,
            allow_private=settings.webhook_allow_private,
            retry_base_seconds=settings.webhook_retry_base_seconds,
            lease=delivery_lease,
        )
        mail = MailSender(db, mailer_for(settings, db), retry_base_seconds=settings.mail_retry_base_seconds)
        found.update({"assent-webhooks": dispatcher.run, "assent-mail": mail.run})
    return found


class Background:
    """The worker's loops in threads beside the web server (`assent serve`), stopped cleanly."""

    def __init__(self, db: Database, settings: Settings | None = None, **options: Any) -> None:
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=run, args=(self.stop,), name=name, daemon=True)
            for name, run in loops(db, settings, **options).items()
        ]

    def __enter__(self) -> Background:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        # A chunk is one transaction of a few thousand addresses, a webhook attempt at most 10 s: they
        # end within seconds. If not, the process exits anyway and the leases hand the work on.
        for thread in self.threads:
            thread.join(timeout=30)


def in_process_worker(
    db: Database, settings: Settings | None = None, **options: Any
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A FastAPI lifespan running the `Background` loops while the app serves."""

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        background = Background(db, settings, **options)
        background.__enter__()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(background.__exit__)

    return lifespan
