"""Settings, read from the environment once, by the app factory and the CLI (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

DEFAULT_DATABASE_URL = "sqlite:///./assent.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    #: newest first; links signed with any of them verify, new ones use the first. Empty
    #: (ASSENT_SECRET_KEYS unset): `create_app` uses a key generated once and kept in the
    #: database, so every host on one database signs alike (a development convenience)
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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        url = env.get("ASSENT_DATABASE_URL", DEFAULT_DATABASE_URL)
        keys = tuple(k.strip() for k in env.get("ASSENT_SECRET_KEYS", "").split(",") if k.strip())
        values: dict[str, object] = {
            "database_url": url,
            "secret_keys": keys,
            "base_url": env.get("ASSENT_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            "smtp_url": env.get("ASSENT_SMTP_URL") or None,
            "mail_from": env.get("ASSENT_MAIL_FROM", "Assent <no-reply@localhost>"),
            "twilio_auth_token": env.get("ASSENT_TWILIO_AUTH_TOKEN") or None,
            "default_phone_region": env.get("ASSENT_DEFAULT_PHONE_REGION") or None,
            "link_max_age_days": _link_max_age(env.get("ASSENT_LINK_MAX_AGE_DAYS")),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _link_max_age(raw: str | None) -> int | None:
    if not raw or not raw.strip():
        return None
    days = int(raw)
    if days < 60:
        raise ValueError("ASSENT_LINK_MAX_AGE_DAYS must be at least 60 (or unset: links never expire)")
    return days


def legacy_secret_file(database_url: str) -> Path:
    """Where versions before the key moved into the database kept the generated key: beside
    the SQLite file, else in the working directory. Adopted once, so old links keep working."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".secret")
    return Path(".assent.secret")
