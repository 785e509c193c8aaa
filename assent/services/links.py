"""Signed links for contacts: the preference center, one-click unsubscribe (RFC 8058),
unsubscribe-from-all and double opt-in confirmation (SPEC R13–R16).

What a token carries. Not the address, not even encrypted: only the keyed hash that already
names the address in the ledger (`Account.address_hash`), plus the business unit, the
language and, for one-click, the subscription type. The address itself sits in
`link_subjects`, keyed by that hash. So:

- a token shows nothing readable about the person (the hash is a keyed BLAKE2b; without
  the account's hash key it cannot be tested against a guessed address);
- there is nothing to decrypt and no second key set to rotate;
- erasure (R22), which already knows the hash, clears the row's address and bumps its token
  generation: every link dies with it, and linking the address again later gives links of
  the next generation (`<hash>.<generation>` in the token) — the old ones stay dead;
- issuing a link is one idempotent upsert, however many messages a sender stamps.

Tokens are itsdangerous signatures (HMAC-SHA256) over that payload with a salt per
purpose, so a preference token is no one-click token. They are signed with the newest of
`ASSENT_SECRET_KEYS` and verified with any listed key: rotation keeps old links working
until their key is dropped from the list. They carry a timestamp but never expire unless
`ASSENT_LINK_MAX_AGE_DAYS` (at least 60) is set.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.engine import Connection

from assent.config import Settings
from assent.domain import feedback
from assent.domain.addresses import Address
from assent.domain.model import Channel
from assent.services import languages, ratelimit
from assent.services.errors import Invalid
from assent.services.state import Account
from assent.storage import tables as t
from assent.storage.upsert import upsert

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"

#: a person who unsubscribed from all hears about it at most this often (R8), whoever asks:
#: the API's resubscribe email, the admin's "Send preference link" and a signup form typed
#: with their address take the same slot
RESUBSCRIBE_EMAILS = ratelimit.Limit("resubscribe-email", 1, dt.timedelta(days=7))


def resubscribe_slot(address: Address, business_unit_id: int) -> str:
    """The value the week's invitation is counted under: one per address and business unit."""
    return f"{address.key}:{business_unit_id}"


def take_invitation_slot(conn: Connection, account: Account, address: Address, business_unit_id: int) -> bool:
    """Count this week's invitation for `address` and the unit in the caller's write
    transaction (it counts if that commits): False when the week's one is already taken."""
    value = resubscribe_slot(address, business_unit_id)
    key = ratelimit.key_for(account, RESUBSCRIBE_EMAILS, value)
    return ratelimit.hit(conn, key, RESUBSCRIBE_EMAILS) is None


def next_invitation_at(
    conn: Connection, account: Account, address: Address, business_unit_id: int
) -> dt.datetime | None:
    """When the next resubscribe invitation may go to `address` for this unit; None: now.
    A read: asking takes nothing from the week's count."""
    return ratelimit.next_allowed_at(conn, account, RESUBSCRIBE_EMAILS, resubscribe_slot(address, business_unit_id))


class Purpose(StrEnum):
    PREFERENCES = "preferences"
    UNSUBSCRIBE = "unsubscribe"  # one type, one click
    UNSUBSCRIBE_ALL = "unsubscribe-all"  # the wide opt-out, one click
    CONFIRM = "confirm"  # double opt-in


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What a token says: whose link, for which BU, in which language, about what."""

    #: the link subject's reference: the keyed hash, `.<generation>` after an erasure
    address_hash: str
    business_unit_id: int
    language: str
    subscription_type_id: int | None = None
    #: a preference link sent as a resubscribe email (the page says why it came)
    resubscribe: bool = False

    def payload(self) -> list[Any]:
        return [
            self.address_hash,
            self.business_unit_id,
            self.language,
            self.subscription_type_id,
            1 if self.resubscribe else 0,
        ]

    @classmethod
    def from_payload(cls, payload: Any) -> LinkTarget:
        if not isinstance(payload, list) or len(payload) != 5:
            raise BadLink("malformed")
        address_hash, bu, language, type_id, resubscribe = payload
        if not (
            isinstance(address_hash, str)
            and isinstance(bu, int)
            and isinstance(language, str)
            and (type_id is None or isinstance(type_id, int))
        ):
            raise BadLink("malformed")
        return cls(address_hash, bu, language, type_id, bool(resubscribe))


class BadLink(Exception):
    """A token that is forged, altered, truncated, for another purpose, or unknown."""


class ExpiredLink(BadLink):
    """A genuine token older than ASSENT_LINK_MAX_AGE_DAYS."""


class Signer:
    """Signs and reads link tokens with the configured keys."""

    def __init__(self, secret_keys: tuple[str, ...] | list[str], max_age_days: int | None = None) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is needed to sign links")
        # itsdangerous takes keys oldest first and signs with the last; ours are newest first.
        self._keys = list(reversed(secret_keys))
        self._max_age = max_age_days * 86400 if max_age_days else None

    @classmethod
    def from_settings(cls, settings: Settings) -> Signer:
        return cls(settings.secret_keys, settings.link_max_age_days)

    def _serializer(self, salt: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(
            self._keys, salt=f"assent.{salt}", signer_kwargs={"digest_method": hashlib.sha256}
        )

    def dumps(self, purpose: Purpose, target: LinkTarget) -> str:
        token: str = self._serializer(purpose.value).dumps(target.payload())
        return token

    def loads(self, purpose: Purpose, token: str) -> LinkTarget:
        if len(token) > 1000:
            raise BadLink("too long")
        try:
            payload = self._serializer(purpose.value).loads(token, max_age=self._max_age)
        except SignatureExpired:
            raise ExpiredLink("expired") from None
        except (BadSignature, UnicodeError, ValueError):
            raise BadLink("bad signature") from None
        return LinkTarget.from_payload(payload)

    # Forms on the pages carry a token bound to the link (or form) they were served for:
    # session-less CSRF protection that needs no cookie and works without JavaScript.
    def form_token(self, bound_to: str) -> str:
        token: str = self._serializer("csrf").dumps(_digest(bound_to))
        return token

    def check_form_token(self, bound_to: str, token: str | None, max_age_seconds: int) -> bool:
        if not token or len(token) > 500:
            return False
        try:
            value = self._serializer("csrf").loads(token, max_age=max_age_seconds)
        except (BadSignature, UnicodeError, ValueError):
            return False
        return bool(value == _digest(bound_to))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def normalize_language(raw: str | None, field: str = "language") -> str | None:
    """The primary subtag, lower-cased ("sv-SE" → "sv"), or a 422 naming the field when the
    tag is malformed or names a language Assent does not know (services/languages.py)."""
    if raw is None or raw == "":
        return None
    found = languages.primary(raw)
    if found is None:
        raise Invalid(field, f"{raw!r} is not a language tag Assent knows, such as 'en', 'de' or 'sv-SE'")
    return found


# --- link subjects ------------------------------------------------------------------------


def remember(conn: Connection, account: Account, address: Address) -> str:
    """Make `address` linkable; return the reference its tokens carry: the address's keyed
    hash, and after an erasure also the generation (`<hash>.<generation>`), so that links
    issued before the erasure never name the address again."""
    address_hash = account.address_hash(address.channel, address.key)
    ls = t.link_subjects
    upsert(
        conn,
        ls,
        [
            {
                "address_hash": address_hash,
                "channel": address.channel.value,
                "address": address.key,
                "display": address.display,
                "created_at": t.now(),
            }
        ],
        keys=("address_hash",),
    )
    # linked again after an erasure: the row kept its (bumped) generation, not the address
    conn.execute(
        sa.update(ls)
        .where(ls.c.address_hash == address_hash, ls.c.address.is_(None))
        .values(channel=address.channel.value, address=address.key, display=address.display, created_at=t.now())
    )
    generation = conn.execute(sa.select(ls.c.generation).where(ls.c.address_hash == address_hash)).scalar_one()
    return address_hash if generation == 0 else f"{address_hash}.{generation}"


def subject(conn: Connection, reference: str) -> Address | None:
    """The address behind a token's reference, or None when it is unknown, erased, or was
    erased after the token was issued (another generation)."""
    address_hash, _, suffix = reference.partition(".")
    generation = int(suffix) if suffix.isdecimal() else 0 if not suffix else -1
    ls = t.link_subjects
    row = conn.execute(
        sa.select(ls.c.channel, ls.c.address, ls.c.display, ls.c.generation).where(ls.c.address_hash == address_hash)
    ).first()
    if row is None or row.address is None or row.generation != generation:
        return None
    return Address(Channel(row.channel), row.address, row.display)


# --- URLs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Urls:
    base_url: str
    signer: Signer

    def preferences(self, target: LinkTarget) -> str:
        plain = LinkTarget(target.address_hash, target.business_unit_id, target.language, None, target.resubscribe)
        return f"{self.base_url}/preferences/{self.signer.dumps(Purpose.PREFERENCES, plain)}"

    def unsubscribe(self, target: LinkTarget) -> str:
        """One-click for the target's type; for the whole BU (wide opt-out) without one."""
        if target.subscription_type_id is None:
            plain = LinkTarget(target.address_hash, target.business_unit_id, target.language)
            return f"{self.base_url}/unsubscribe/{self.signer.dumps(Purpose.UNSUBSCRIBE_ALL, plain)}"
        return f"{self.base_url}/unsubscribe/{self.signer.dumps(Purpose.UNSUBSCRIBE, target)}"

    def unsubscribe_all(self, target: LinkTarget) -> str:
        plain = LinkTarget(target.address_hash, target.business_unit_id, target.language)
        return self.unsubscribe(plain)

    def confirm(self, target: LinkTarget) -> str:
        plain = LinkTarget(target.address_hash, target.business_unit_id, target.language)
        return f"{self.base_url}/confirm/{self.signer.dumps(Purpose.CONFIRM, plain)}"

    def list_unsubscribe_headers(self, target: LinkTarget) -> dict[str, str]:
        """RFC 2369 / RFC 8058 header values, exactly as a sender pastes them."""
        return {"List-Unsubscribe": f"<{self.unsubscribe(target)}>", "List-Unsubscribe-Post": ONE_CLICK_BODY}


def urls_for(settings: Settings) -> Urls:
    return Urls(settings.base_url.rstrip("/"), Signer.from_settings(settings))


def bundle(urls: Urls, target: LinkTarget, channel: Channel) -> dict[str, Any]:
    """Everything `POST /api/v1/links` answers, for a remembered target."""
    one_click = urls.unsubscribe(target) if target.subscription_type_id is not None else None
    headers = urls.list_unsubscribe_headers(target) if channel is Channel.EMAIL else None
    return {
        "preferences_url": urls.preferences(target),
        "unsubscribe_all_url": urls.unsubscribe_all(target),
        "unsubscribe_url": one_click,
        "list_unsubscribe": headers["List-Unsubscribe"] if headers else None,
        "list_unsubscribe_post": headers["List-Unsubscribe-Post"] if headers else None,
        "headers": headers,
    }


def esp_metadata(channel: Channel, business_unit_id: int, subscription_type_id: int | None) -> dict[str, Any] | None:
    """What a sender attaches to an email so that its provider's feedback names the type and
    unit (inbound webhooks, issue 13); None off EMAIL."""
    if channel is not Channel.EMAIL:
        return None
    return feedback.metadata_for(business_unit_id, subscription_type_id)
