"""The local outbox: without ASSENT_SMTP_URL, mail is stored in the database and logged
(recipient, subject and the links in it), so a developer can follow a link on a first run
without a mail server. `mail_outbox.message` holds each whole RFC 5322 message."""

from __future__ import annotations

import logging
import re
import sys
from email.message import EmailMessage

from sqlalchemy.engine import Connection

from assent.storage import tables as t
from assent.storage.db import Database

log = logging.getLogger("assent.mail")
_URL = re.compile(r"https?://[^\s<>\"']+")


class OutboxMailer:
    def __init__(self, db: Database) -> None:
        self.db = db
        _make_visible()

    def send(self, message: EmailMessage) -> None:
        with self.db.write() as conn:
            keep(conn, message)


def keep(conn: Connection, message: EmailMessage) -> None:
    """Keep a message in the local outbox, in the caller's transaction, and log it."""
    recipient = str(message["To"])
    subject = str(message["Subject"])
    conn.execute(
        t.mail_outbox.insert().values(
            created_at=t.now(), recipient=recipient, subject=subject, message=message.as_bytes()
        )
    )
    _make_visible()
    body = message.get_body(preferencelist=("plain",))
    links = _URL.findall(body.get_content()) if body is not None else []
    log.info(
        "No ASSENT_SMTP_URL: mail to %s kept in the local outbox: %s%s",
        recipient,
        subject,
        "".join(f"\n    {link}" for link in dict.fromkeys(links)),
    )


def _make_visible() -> None:
    """`assent serve` configures no logging of its own: give our logger a handler there,
    unless the application (or pytest) already set up logging."""
    if logging.getLogger().handlers or log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
