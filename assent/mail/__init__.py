"""Outgoing email: a `Mailer` with a real SMTP implementation (`ASSENT_SMTP_URL`) and a
local outbox used when that is unset, so a first run needs no mail server (STYLE §5:
external systems behind a small interface, the implementation chosen by settings).

Messages are composed in `assent.mail.compose`; this package only delivers them.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import Protocol

from assent.config import Settings
from assent.storage.db import Database

log = logging.getLogger("assent.mail")


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver one message or raise (OSError, smtplib.SMTPException)."""


def mailer_for(settings: Settings, db: Database) -> Mailer:
    if settings.smtp_url:
        from assent.mail.smtp import SmtpMailer

        return SmtpMailer(settings.smtp_url)
    from assent.mail.outbox import OutboxMailer

    return OutboxMailer(db)


def deliver(mailer: Mailer, message: EmailMessage | None) -> bool:
    """Send after commit. A failure is logged and reported, never raised into a request whose
    changes are already committed."""
    if message is None:
        return False
    try:
        mailer.send(message)
    except (OSError, smtplib.SMTPException):
        log.exception("Could not send %r to %s", str(message["Subject"]), message["To"])
        return False
    return True
