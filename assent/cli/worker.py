"""`assent worker`: run durable jobs (bulk updates…), deliver webhooks and queued mail,
without the web server.

Several may run against one PostgreSQL (or beside `assent serve`): each job is held by one
worker at a time through its lease. SIGTERM or Ctrl-C finishes the current chunk, hands
the job back and exits 0; a worker killed outright loses only its uncommitted chunk.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from types import FrameType

import click
from rich.console import Console

from assent.actions.ledger import periodic_checkpoints
from assent.cli.main import cli, settle_heap
from assent.config import Settings
from assent.jobs.dispatcher import Dispatcher
from assent.jobs.worker import Worker
from assent.mail import mailer_for
from assent.mail.queue import MailSender
from assent.storage.db import open_database
from assent.storage.migrate import migrate

console = Console(stderr=True)


@cli.command("worker")
@click.option("--poll", default=0.5, show_default=True, type=float, help="Seconds between looks at an empty queue.")
@click.option(
    "--chunk-size",
    default=0,
    type=click.IntRange(0, 10_000),
    help="Targets per transaction. [default: 0, the backend's own: 5,000 on SQLite, 1,000 on PostgreSQL]",
)
@click.option(
    "--lease",
    "lease_seconds",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds a job stays ours without progress; after that another worker takes it over.",
)
@click.option(
    "--pause",
    default=0.0,
    show_default=True,
    type=float,
    help="Seconds to rest between chunks (leaves SQLite's write lock to other writers).",
)
@click.option(
    "--delivery-lease",
    "delivery_lease_seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(1.0),
    help="Seconds a webhook delivery stays ours; attempts time out within half of it (at most 10 s).",
)
@click.option("--once", is_flag=True, help="Exit when no job is waiting instead of polling.")
def worker(
    poll: float, chunk_size: int, lease_seconds: float, pause: float, delivery_lease_seconds: float, once: bool
) -> None:
    """Run the job worker, the webhook dispatcher and the mail queue until SIGTERM/SIGINT
    (migrates the database first)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    db = open_database(settings, pool_size=4)  # the jobs, the dispatcher and the mail sender
    migrate(db)
    runner = Worker(
        db,
        lease=dt.timedelta(seconds=lease_seconds),
        chunk_size=chunk_size,
        poll=poll,
        pause=pause,
        periodic=periodic_checkpoints(db, settings),
    )
    dispatcher = Dispatcher(
        db,
        allow_private=settings.webhook_allow_private,
        retry_base_seconds=settings.webhook_retry_base_seconds,
        lease=dt.timedelta(seconds=delivery_lease_seconds),
        owner=runner.owner,
        poll=min(poll, 0.5),
    )
    mail = MailSender(db, mailer_for(settings, db), retry_base_seconds=settings.mail_retry_base_seconds)
    settle_heap()
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        console.print(f"Received {signal.Signals(signum).name}: finishing the current chunk.")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    console.print(f"Job worker {runner.owner} on {settings.database_url.split('://')[0]}")
    try:
        if once:
            runner.run_until_idle(stop)
            dispatcher.run_until_idle()
            mail.run_until_idle()
        else:
            threads = [
                threading.Thread(target=loop, args=(stop,), name=name)
                for name, loop in (("assent-webhooks", dispatcher.run), ("assent-mail", mail.run))
            ]
            for thread in threads:
                thread.start()
            try:
                runner.run(stop)
            finally:
                stop.set()
                for thread in threads:
                    thread.join()
    finally:
        db.dispose()
