"""Settings, read from the environment once, by the app factory and the CLI (never at import)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

DEFAULT_DATABASE_URL = "sqlite:///./assent.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    #: newest first; links signed with any of them verify, new ones use the first
    secret_keys: tuple[str, ...] = field(default_factory=tuple)
    base_url: str = "http://127.0.0.1:8000"
    smtp_url: str | None = None
    mail_from: str = "Assent <no-reply@localhost>"
    twilio_auth_token: str | None = None
    default_phone_region: str | None = None
    #: in-process job worker in `assent serve`
    run_worker: bool = True
    #: contact links (preferences, unsubscribe, confirm) never expire unless this is set;
    #: when set it is at least 60 days (SPEC R13; CAN-SPAM asks for 30 after a send)
    link_max_age_days: int | None = None
    #: seconds before a failed webhook delivery is retried; doubles per attempt up to an hour
    webhook_retry_base_seconds: float = 5.0
    #: allow webhook targets on private, loopback and link-local addresses (tests, one host)
    webhook_allow_private: bool = False
    #: seconds before a mail the SMTP server did not take is retried; doubles up to an hour
    mail_retry_base_seconds: float = 5.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        url = env.get("ASSENT_DATABASE_URL", DEFAULT_DATABASE_URL)
        keys = tuple(k.strip() for k in env.get("ASSENT_SECRET_KEYS", "").split(",") if k.strip())
        values: dict[str, object] = {
            "database_url": url,
            "secret_keys": keys or (development_secret(url),),
            "base_url": env.get("ASSENT_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            "smtp_url": env.get("ASSENT_SMTP_URL") or None,
            "mail_from": env.get("ASSENT_MAIL_FROM", "Assent <no-reply@localhost>"),
            "twilio_auth_token": env.get("ASSENT_TWILIO_AUTH_TOKEN") or None,
            "default_phone_region": env.get("ASSENT_DEFAULT_PHONE_REGION") or None,
            "link_max_age_days": _link_max_age(env.get("ASSENT_LINK_MAX_AGE_DAYS")),
            "webhook_retry_base_seconds": _seconds(env, "ASSENT_WEBHOOK_RETRY_BASE_SECONDS"),
            "webhook_allow_private": _flag(env.get("ASSENT_WEBHOOK_ALLOW_PRIVATE")),
            "mail_retry_base_seconds": _seconds(env, "ASSENT_MAIL_RETRY_BASE_SECONDS"),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _seconds(env: Mapping[str, str], name: str, default: float = 5.0) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    value = float(raw)
    if not 0 < value <= 3600:
        raise ValueError(f"{name} must be a number of seconds above 0 and at most 3600")
    return value


def _flag(raw: str | None) -> bool:
    value = (raw or "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"expected true or false, not {raw!r}")


def _link_max_age(raw: str | None) -> int | None:
    if not raw or not raw.strip():
        return None
    days = int(raw)
    if days < 60:
        raise ValueError("ASSENT_LINK_MAX_AGE_DAYS must be at least 60 (or unset: links never expire)")
    return days


def development_secret(database_url: str) -> str:
    """A key generated on first use and kept beside the SQLite file (or in the working
    directory), so a first run needs no configuration and links survive restarts."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database + ".secret")
    else:
        path = Path(".assent.secret")
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key
