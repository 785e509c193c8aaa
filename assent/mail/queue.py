"""The mail queue (SPEC R33): a message is written to `mail_queue` in the transaction that
decides to send it (`enqueue`, called by the actions), then delivered by the worker
(`MailSender`, in `assent worker` and beside `assent serve`) with retries and backoff for up
to three days. A mail server that is down delays mail; it never loses it. Nothing is sent
from a request: the interfaces only call the action.

Without ASSENT_SMTP_URL the "mail server" is the local outbox, a table of this same
database: the message is kept there in the deciding transaction itself (and its queue row
written SENT), so a first run and the tests see their mail at once, as before the queue.

Delivery holds a row by a compare-and-set lease (as the webhook dispatcher does), so any
number of workers never send one message twice at once. A worker killed after the server
took a message but before it recorded that sends it again (at least once).
"""

from __future__ import annotations

import datetime as dt
import email
import logging
import os
import random
import secrets
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain import webhooks as rules
from assent.domain.webhooks import MailState
from assent.mail import POLICY, Mailer
from assent.mail.outbox import keep
from assent.storage import tables as t
from assent.storage.db import Database

log = logging.getLogger("assent.mail")
QUEUED = MailState.QUEUED.value


@dataclass(frozen=True, slots=True)
class Queued:
    """A message written to the queue."""

    id: int
    #: already delivered, in the same transaction: the local outbox (no ASSENT_SMTP_URL)
    sent: bool


def enqueue(
    conn: Connection, message: EmailMessage, now: dt.datetime | None = None, *, local: bool = False
) -> Queued:
    """Queue a message in the caller's (deciding) transaction; the worker sends it.
    `local` (`mail.is_local`): keep it in the local outbox in this transaction instead."""
    at = now or t.now()
    q = t.mail_queue
    values: dict[str, Any] = {"state": QUEUED, "attempts": 0, "next_attempt_at": at}
    if local:
        keep(conn, message)
        values = {"state": MailState.SENT.value, "attempts": 1, "next_attempt_at": None, "sent_at": at}
    mail_id = conn.execute(
        q.insert()
        .values(
            created_at=at,
            recipient=str(message["To"])[:320],
            subject=str(message["Subject"])[:500],
            message=message.as_bytes(),
            **values,
        )
        .returning(q.c.id)
    ).scalar_one()
    return Queued(int(mail_id), local)


class MailSender:
    def __init__(
        self,
        db: Database,
        mailer: Mailer,
        *,
        retry_base_seconds: float = 5.0,
        clock: Callable[[], dt.datetime] = t.now,
        owner: str | None = None,
        lease: dt.timedelta = dt.timedelta(seconds=120),
        batch: int = 20,
        poll: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.mailer = mailer
        self.retry_base = retry_base_seconds
        self.clock = clock
        self.owner = owner or f"mail:{os.getpid()}:{secrets.token_hex(4)}"
        self.lease = lease
        self.batch = batch
        self.poll = poll
        self.rng = rng or random.Random()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                sent = self.work_once()
            except Exception:  # a database outage must not end the loop
                log.exception("mail sender %s: a round failed", self.owner)
                sent = 0
            if not sent:
                stop.wait(self.poll)

    def run_until_idle(self) -> None:
        while self.work_once():
            pass

    def work_once(self) -> int:
        """Send the due messages of one batch; returns how many were tried."""
        now = self.clock()
        q = t.mail_queue
        with self.db.read() as conn:
            ids = (
                conn.execute(
                    sa.select(q.c.id)
                    .where(q.c.state == QUEUED, q.c.next_attempt_at <= now, _lease_free(now))
                    .order_by(q.c.next_attempt_at, q.c.id)
                    .limit(self.batch)
                )
                .scalars()
                .all()
            )
        if not ids:
            return 0
        self.send_ids(list(ids))
        return len(ids)

    def send_ids(self, ids: list[int]) -> int:
        """Lease, send and record these messages; returns how many the server took."""
        now = self.clock()
        q = t.mail_queue
        with self.db.write() as conn:
            claimed = conn.execute(
                sa.update(q)
                .where(q.c.id.in_(ids), q.c.state == QUEUED, _lease_free(now))
                .values(lease_owner=self.owner, lease_until=now + self.lease)
                .returning(q.c.id, q.c.message, q.c.attempts, q.c.created_at)
            ).all()
        sent = 0
        for row in claimed:
            # Parsed back with the policy it was composed with: long List-Unsubscribe headers
            # stay plain ASCII on one line (RFC 2369, RFC 8058), not RFC 2047-encoded.
            message = email.message_from_bytes(row.message, policy=POLICY)
            assert isinstance(message, EmailMessage)
            try:
                self.mailer.send(message)
            except (OSError, smtplib.SMTPException) as error:
                self._record(row, f"{type(error).__name__}: {error}"[:500])
            else:
                self._record(row, None)
                sent += 1
        return sent

    def _record(self, row: Any, error: str | None) -> None:
        now = self.clock()
        q = t.mail_queue
        values: dict[str, Any] = {"attempts": row.attempts + 1, "lease_owner": None, "lease_until": None}
        if error is None:
            values.update(state=MailState.SENT.value, sent_at=now, last_error=None, next_attempt_at=None)
        elif rules.gives_up(row.created_at, now):
            values.update(state=MailState.FAILED.value, last_error=error, next_attempt_at=None)
            log.warning("mail %d: gave up after %d attempts since %s: %s", row.id, row.attempts + 1, row.created_at,
                        error)
        else:
            delay = rules.retry_delay(row.attempts + 1, self.retry_base, self.rng.random())
            values.update(last_error=error, next_attempt_at=now + delay)
            log.info("mail %d not sent (%s); next attempt in %d s", row.id, error, delay.total_seconds())
        with self.db.write() as conn:
            conn.execute(
                sa.update(q)
                .where(q.c.id == row.id, q.c.lease_owner == self.owner, q.c.attempts == row.attempts)
                .values(**values)
            )


def _lease_free(now: dt.datetime) -> sa.ColumnElement[bool]:
    q = t.mail_queue
    return sa.or_(q.c.lease_until.is_(None), q.c.lease_until < now)


def queue_view(conn: Connection, limit: int = 100) -> dict[str, Any]:
    """What the admin shows: counts by state, and the newest messages not sent (queued or failed)."""
    q = t.mail_queue
    counts = {state.value: 0 for state in MailState}
    for state, count in conn.execute(sa.select(q.c.state, sa.func.count()).group_by(q.c.state)):
        counts[state] = count
    rows = conn.execute(
        sa.select(q.c.id, q.c.created_at, q.c.recipient, q.c.subject, q.c.state, q.c.attempts, q.c.next_attempt_at,
                  q.c.last_error)
        .where(q.c.state != MailState.SENT.value)
        .order_by(q.c.id.desc())
        .limit(limit)
    ).all()
    return {"counts": counts, "unsent": [dict(r._mapping) for r in rows]}
