"""Settings, read from the environment once, by the app factory and the CLI (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers
import sqlalchemy as sa

DEFAULT_DATABASE_URL = "sqlite:///./assent.db"


class SettingsError(ValueError):
    """An `ASSENT_*` variable holds a value Assent cannot use; the message names it."""


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
    #: streaming replicas for reads that may be served by one (decisions, exports, history,
    #: the events feed); comma-separated in ASSENT_READ_DATABASE_URL
    read_database_urls: tuple[str, ...] = field(default_factory=tuple)
    #: without a consistency position, a replica serves only while it lags less than this
    max_replica_lag_ms: int = 500
    #: the largest file an import (or another streamed upload) may be
    max_upload_bytes: int = 1 << 30
    # --- email feedback webhooks (/inbound/ses, sendgrid, postmark, mailgun; issue 13) ---
    #: where SNS signing certificates and SubscribeURLs may be fetched from; empty means
    #: HTTPS on an sns.<region>.amazonaws.com host
    sns_cert_url_prefixes: tuple[str, ...] = ()
    #: the SNS topics whose messages are believed (and subscriptions confirmed); empty means
    #: any topic (SNS signs every account's topics alike)
    sns_topic_arns: tuple[str, ...] = ()
    #: the `token` URL parameter that lets SNS raw message delivery in (it is unsigned)
    ses_raw_token: str | None = None
    #: the base64 verification key SendGrid shows for the Signed Event Webhook
    sendgrid_public_key: str | None = None
    postmark_webhook_user: str | None = None
    postmark_webhook_password: str | None = None
    mailgun_signing_key: str | None = None
    #: request bodies of JSON routes (assent/bodylimit.py)
    max_body_bytes: int = 1 << 20
    #: `/metrics` wants `Authorization: Bearer <this>`; unset, it is served to loopback only
    metrics_token: str | None = None
    #: signs ledger checkpoints and consent receipts (Ed25519, PKCS#8 PEM or 32 bytes in
    #: base64/hex); unset, a key generated once and kept in the database is used
    ledger_signing_key: str | None = None
    #: seconds between the worker's ledger checkpoints; 0 turns them off
    ledger_checkpoint_interval: float = 3600.0
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
            "secret_keys": keys,
            "base_url": env.get("ASSENT_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            "smtp_url": env.get("ASSENT_SMTP_URL") or None,
            "mail_from": env.get("ASSENT_MAIL_FROM", "Assent <no-reply@localhost>"),
            "twilio_auth_token": env.get("ASSENT_TWILIO_AUTH_TOKEN") or None,
            "default_phone_region": _phone_region(env.get("ASSENT_DEFAULT_PHONE_REGION")),
            "link_max_age_days": _link_max_age(env.get("ASSENT_LINK_MAX_AGE_DAYS")),
            "read_database_urls": tuple(
                u.strip() for u in env.get("ASSENT_READ_DATABASE_URL", "").split(",") if u.strip()
            ),
            "max_replica_lag_ms": _non_negative_int(env, "ASSENT_MAX_REPLICA_LAG_MS", 500),
            "max_upload_bytes": _bytes(env, "ASSENT_MAX_UPLOAD_BYTES", 1 << 30),
            "sns_cert_url_prefixes": tuple(
                p.strip() for p in env.get("ASSENT_SNS_CERT_URL_PREFIXES", "").split(",") if p.strip()
            ),
            "sns_topic_arns": tuple(a.strip() for a in env.get("ASSENT_SNS_TOPIC_ARNS", "").split(",") if a.strip()),
            "ses_raw_token": env.get("ASSENT_SES_RAW_TOKEN") or None,
            "sendgrid_public_key": env.get("ASSENT_SENDGRID_PUBLIC_KEY") or None,
            "postmark_webhook_user": env.get("ASSENT_POSTMARK_WEBHOOK_USER") or None,
            "postmark_webhook_password": env.get("ASSENT_POSTMARK_WEBHOOK_PASSWORD") or None,
            "mailgun_signing_key": env.get("ASSENT_MAILGUN_SIGNING_KEY") or None,
            "max_body_bytes": _bytes(env, "ASSENT_MAX_BODY_BYTES", 1 << 20),
            "metrics_token": env.get("ASSENT_METRICS_TOKEN", "").strip() or None,
            "ledger_signing_key": env.get("ASSENT_LEDGER_SIGNING_KEY") or None,
            "ledger_checkpoint_interval": _interval(env.get("ASSENT_LEDGER_CHECKPOINT_INTERVAL")),
            "webhook_retry_base_seconds": _seconds(env, "ASSENT_WEBHOOK_RETRY_BASE_SECONDS"),
            "webhook_allow_private": _flag(env.get("ASSENT_WEBHOOK_ALLOW_PRIVATE")),
            "mail_retry_base_seconds": _seconds(env, "ASSENT_MAIL_RETRY_BASE_SECONDS"),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _non_negative_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdecimal():
        raise SettingsError(f"{name} must be a non-negative integer, not {raw!r}")
    return int(raw)


def _bytes(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdecimal() or int(raw) < 1024:
        raise SettingsError(f"{name} must be a number of bytes, at least 1024 (got {raw!r})")
    return int(raw)


def _seconds(env: Mapping[str, str], name: str, default: float = 5.0) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    value = float(raw)
    if not 0 < value <= 3600:
        raise SettingsError(f"{name} must be a number of seconds above 0 and at most 3600")
    return value


def _flag(raw: str | None) -> bool:
    value = (raw or "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"expected true or false, not {raw!r}")


def _phone_region(raw: str | None) -> str | None:
    """ASSENT_DEFAULT_PHONE_REGION: an ISO 3166 region (`SE`), the fallback of the account
    setting `default_phone_region` for national numbers."""
    region = (raw or "").strip().upper()
    if not region:
        return None
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise SettingsError(f"ASSENT_DEFAULT_PHONE_REGION: {raw!r} is not an ISO 3166 region phonenumbers knows")
    return region


def _link_max_age(raw: str | None) -> int | None:
    if not raw or not raw.strip():
        return None
    days = int(raw)
    if days < 60:
        raise SettingsError("ASSENT_LINK_MAX_AGE_DAYS must be at least 60 (or unset: links never expire)")
    return days


def _interval(raw: str | None) -> float:
    if not raw or not raw.strip():
        return 3600.0
    try:
        seconds = float(raw)
    except ValueError:
        raise SettingsError("ASSENT_LEDGER_CHECKPOINT_INTERVAL: seconds between checkpoints (0: none)") from None
    if seconds < 0:
        raise SettingsError("ASSENT_LEDGER_CHECKPOINT_INTERVAL must not be negative")
    return seconds


def legacy_secret_file(database_url: str) -> Path:
    """Where versions before the key moved into the database kept the generated key: beside
    the SQLite file, else in the working directory. Adopted once, so old links keep working."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".secret")
    return Path(".assent.secret")
