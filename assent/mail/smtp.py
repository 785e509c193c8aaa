"""Delivery by SMTP, configured by one URL:

- `smtp://host:25` — plain (a local relay or a test server on loopback);
- `smtp+starttls://user:password@host:587` — upgrade with STARTTLS, then authenticate;
- `smtps://user:password@host:465` — TLS from the first byte.

User name and password are percent-decoded, so `@` or `:` in them can be written `%40`, `%3A`.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


@dataclass(frozen=True)
class SmtpConfig:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise ValueError(f"ASSENT_SMTP_URL must start with smtp://, smtp+starttls:// or smtps://, not {scheme}://")
        if not parts.hostname:
            raise ValueError("ASSENT_SMTP_URL names no host")
        return cls(
            scheme,
            parts.hostname,
            parts.port or _DEFAULT_PORTS[scheme],
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
        )


class SmtpMailer:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.config = SmtpConfig.parse(url)
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        config = self.config
        client: smtplib.SMTP
        if config.scheme == "smtps":
            client = smtplib.SMTP_SSL(
                config.host, config.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=self.timeout)
        with client:
            if config.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if config.username:
                client.login(config.username, config.password or "")
            client.send_message(message)
