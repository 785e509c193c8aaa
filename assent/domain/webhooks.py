"""Outbound webhooks (SPEC R25) and queued mail (R33): the words and the retry policy.

Plain Python: no I/O, no clock read here (callers pass `now`), no randomness of its own
(callers pass the jitter draw), so every rule is tested in microseconds.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from enum import StrEnum

from assent.domain.model import EventKind


class EventType(StrEnum):
    """What a webhook receiver sees in `type` (one per ledger event kind), plus the test."""

    SUBSCRIPTION_CHANGED = "subscription.changed"
    UNSUBSCRIBE_ALL_CHANGED = "unsubscribe_all.changed"
    DELIVERY_CHANGED = "delivery.changed"
    CONFIRMATION_CHANGED = "confirmation.changed"
    ADDRESS_ERASED = "address.erased"
    #: an email provider reported that the person resubscribed there: evidence only, no
    #: state changed (R5) — a receiver may want to look, it must not re-subscribe anyone
    RESUBSCRIBE_REPORTED = "resubscribe.reported"
    TEST = "webhook.test"


TYPE_OF_KIND: dict[str, EventType] = {
    EventKind.STATUS: EventType.SUBSCRIPTION_CHANGED,
    EventKind.WIDE_OPT_OUT: EventType.UNSUBSCRIBE_ALL_CHANGED,
    EventKind.UNDELIVERABLE: EventType.DELIVERY_CHANGED,
    EventKind.CONFIRMATION: EventType.CONFIRMATION_CHANGED,
    EventKind.ERASURE: EventType.ADDRESS_ERASED,
    # A soft bounce is about deliverability like a hard one (`new_status` SOFT_BOUNCE tells
    # them apart); it never suppresses (R19).
    EventKind.SOFT_BOUNCE: EventType.DELIVERY_CHANGED,
    EventKind.ESP_RESUBSCRIBE: EventType.RESUBSCRIBE_REPORTED,
}

#: What an endpoint may subscribe to: every ledger type, or "*" for all of them.
SUBSCRIBABLE = tuple(dict.fromkeys(TYPE_OF_KIND.values()))
ALL = "*"


class DeliveryState(StrEnum):
    PENDING = "PENDING"  # waiting for its turn or its next attempt
    DELIVERED = "DELIVERED"  # a 2xx answer
    GAVE_UP = "GAVE_UP"  # failed for the whole retry window


class AttemptOutcome(StrEnum):
    DELIVERED = "DELIVERED"
    RETRY = "RETRY"  # failed; another attempt is scheduled
    GAVE_UP = "GAVE_UP"  # failed, and the retry window is over
    TEST = "TEST"  # a test event sent from the API or the admin


class MailState(StrEnum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    FAILED = "FAILED"  # not taken for the whole retry window


#: How long one event (or mail) is retried, and how long an endpoint may fail before it is
#: disabled (SPEC R25; Standard Webhooks suggests days, Svix retries for about 3).
RETRY_WINDOW = dt.timedelta(days=3)
#: The longest pause between two attempts.
MAX_DELAY = dt.timedelta(hours=1)
#: How long the secret a rotation replaced still signs beside the new one.
ROTATION_OVERLAP = dt.timedelta(hours=24)
#: Receivers answer within this, or the attempt counts as failed.
TIMEOUT_SECONDS = 10.0
#: Bytes of a response body that are read (and kept in the log).
MAX_RESPONSE_BYTES = 4096


def event_type(kind: str) -> EventType:
    return TYPE_OF_KIND[kind]


def normalize_event_types(requested: Sequence[str]) -> tuple[list[str], list[tuple[int, str]]]:
    """An endpoint's filter: `["*"]` or distinct known types. Returns the filter and the
    (index, reason) of every entry that is not acceptable."""
    problems: list[tuple[int, str]] = []
    if not requested:
        return [], [(-1, "name at least one event type, or \"*\" for all")]
    known = {t.value for t in SUBSCRIBABLE}
    for index, name in enumerate(requested):
        if name != ALL and name not in known:
            problems.append((index, f"unknown event type {name!r}; one of *, {', '.join(sorted(known))}"))
    if ALL in requested and len(requested) > 1:
        problems.append((requested.index(ALL), '"*" already means every type: give it alone'))
    return list(dict.fromkeys(requested)), problems


def wants(event_types: Iterable[str], kind: str) -> bool:
    """Whether an endpoint with this filter receives a ledger event of this kind."""
    chosen = set(event_types)
    return ALL in chosen or event_type(kind).value in chosen


def retry_delay(attempts: int, base_seconds: float, jitter: float) -> dt.timedelta:
    """The pause after the `attempts`-th failed attempt: `base` after the first, doubling
    up to an hour, plus up to 20 % jitter (`jitter` is a draw from [0, 1)) so that
    receivers coming back are not hit by every sender's retries at once. Never above an hour."""
    exponent = min(max(attempts - 1, 0), 40)
    delay = min(base_seconds * 2.0**exponent, MAX_DELAY.total_seconds())
    delay = min(delay * (1.0 + 0.2 * jitter), MAX_DELAY.total_seconds())
    return dt.timedelta(seconds=delay)


def gives_up(first_attempt_at: dt.datetime, now: dt.datetime) -> bool:
    """After a failed attempt: is the retry window over?"""
    return now - first_attempt_at >= RETRY_WINDOW


def disables(failing_since: dt.datetime | None, now: dt.datetime) -> bool:
    """After a failed attempt: has the endpoint failed (without one success) for the window?"""
    return failing_since is not None and now - failing_since >= RETRY_WINDOW


def succeeded(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def refused_target(ip: str) -> str | None:
    """Why a resolved address may not be a webhook target (SSRF), or None when it may.
    Private, loopback, link-local (cloud metadata at 169.254.169.254), multicast, reserved
    and unspecified addresses are refused; IPv4-mapped IPv6 is judged as the IPv4 it maps."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for word, flag in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("private", address.is_private),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("unspecified", address.is_unspecified),
    ):
        if flag:
            return f"{address} is a {word} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None
