"""Outgoing email: a `Mailer` with a real SMTP implementation (`ASSENT_SMTP_URL`) and a
local outbox used when that is unset, so a first run needs no mail server (STYLE §5:
external systems behind a small interface, the implementation chosen by settings).

Messages are composed in `assent.mail.compose`; this package only delivers them.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from typing import Protocol

from assent.config import Settings
from assent.storage.db import Database

#: Headers are folded at white space, or kept on one line up to RFC 5322's 998 characters.
#: With the usual 78, Python encodes a header it cannot fold (RFC 2047) — and a one-click
#: `List-Unsubscribe` URL written as `=?utf-8?q?=3Chttps…` is one no mailbox provider finds.
POLICY = policy.default.clone(max_line_length=998)


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver one message or raise (OSError, smtplib.SMTPException)."""


def is_local(settings: Settings) -> bool:
    """No ASSENT_SMTP_URL: mail goes to the local outbox (a table of Assent's own database)."""
    return not settings.smtp_url


def mailer_for(settings: Settings, db: Database) -> Mailer:
    if settings.smtp_url:  # not is_local(settings)
        from assent.mail.smtp import SmtpMailer

        return SmtpMailer(settings.smtp_url)
    from assent.mail.outbox import OutboxMailer

    return OutboxMailer(db)
