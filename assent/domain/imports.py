"""What the columns of an imported file mean, and what a cell may say (SPEC R21).

Plain functions over header names and cell text: no file, no database. Which changes an
import may make is not decided here — the change rules (R5, R7, R8, R10) are asked through
`Writer` like for every other actor; this module only turns a file's words into requests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from assent.domain.model import Channel, Outcome, Reason, Status, Verdict, refused


class ImportKind(StrEnum):
    OPT_OUTS = "OPT_OUTS"
    CONTACTS = "CONTACTS"


class ImportStatus(StrEnum):
    AWAITING_CONFIRMATION = "AWAITING_CONFIRMATION"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class LineReason(StrEnum):
    """Why a line (or a cell of it) could not be read: counted as INVALID, not REFUSED."""

    INVALID_ADDRESS = "INVALID_ADDRESS"
    NO_ADDRESS = "NO_ADDRESS"
    UNKNOWN_STATUS = "UNKNOWN_STATUS"
    UNKNOWN_VALUE = "UNKNOWN_VALUE"
    RAGGED_LINE = "RAGGED_LINE"
    LINE_TOO_LONG = "LINE_TOO_LONG"
    FIELD_TOO_LONG = "FIELD_TOO_LONG"
    UNKNOWN_SUBSCRIPTION_TYPE = "UNKNOWN_SUBSCRIPTION_TYPE"
    WRONG_CHANNEL = "WRONG_CHANNEL"
    UNKNOWN_BUSINESS_UNIT = "UNKNOWN_BUSINESS_UNIT"


#: Refusals that name a line the file got wrong (INVALID) rather than a change the rules refused.
LINE_REASONS = frozenset(r.value for r in LineReason)

#: A contact with no address on a status column's channel (an SMS type, no phone): refused.
NO_ADDRESS_ON_CHANNEL = "NO_ADDRESS_ON_CHANNEL"

CONTACT_FIELDS = ("email", "phone", "first_name", "last_name", "company")
_ALIASES = {
    "email": "email",
    "e_mail": "email",
    "email_address": "email",
    "mail": "email",
    "phone": "phone",
    "phone_number": "phone",
    "mobile": "phone",
    "mobile_phone": "phone",
    "first_name": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "company": "company",
    "company_name": "company",
}
_SUBSCRIPTION = re.compile(r"^subscription\s*:\s*(\d{1,9})$")
_UNSUBSCRIBE_ALL = re.compile(r"^unsubscribe_all\s*:\s*(\d{1,9})$")
_PROPERTY = "property:"
IGNORE = "ignore"


def header_key(name: str) -> str:
    """Case and spacing do not matter: "First Name", "first_name", " FIRST-NAME " agree."""
    return re.sub(r"[\s\-_]+", "_", name.strip().lower()).strip("_")


def address_field(channel: Channel) -> str:
    return "email" if channel is Channel.EMAIL else "phone"


def auto_mapping(kind: ImportKind, channel: Channel, columns: Sequence[str]) -> dict[str, str]:
    """column → field, as Assent reads the header unless the user says otherwise."""
    mapping: dict[str, str] = {}
    if kind is ImportKind.OPT_OUTS:
        wanted = address_field(channel)
        for column in columns:
            mapping[column] = wanted if _ALIASES.get(header_key(column)) == wanted else IGNORE
        if wanted not in mapping.values() and len(columns) == 1:
            mapping[columns[0]] = wanted  # the only column is the address column
        return mapping
    for column in columns:
        key = header_key(column)
        compact = re.sub(r"\s+", "", column.strip().lower())
        if key in _ALIASES and _ALIASES[key] not in mapping.values():
            mapping[column] = _ALIASES[key]
        elif match := _SUBSCRIPTION.match(compact):
            mapping[column] = f"subscription:{int(match.group(1))}"
        elif match := _UNSUBSCRIBE_ALL.match(compact.replace("-", "_")):
            mapping[column] = f"unsubscribe_all:{int(match.group(1))}"
        else:
            mapping[column] = f"{_PROPERTY}{column.strip()}"
    return mapping


@dataclass(frozen=True)
class FieldSpec:
    """A mapping target parsed: what it is and, for status columns, its id."""

    kind: str  # a CONTACT_FIELDS name, "subscription", "unsubscribe_all", "property", "ignore"
    ident: int | None = None
    name: str | None = None


def parse_field(kind: ImportKind, value: str) -> FieldSpec | None:
    """A mapping target a user may choose, or None if it is not one."""
    if value == IGNORE:
        return FieldSpec(IGNORE)
    if value in CONTACT_FIELDS:
        if kind is ImportKind.OPT_OUTS and value not in ("email", "phone"):
            return None
        return FieldSpec(value)
    if kind is ImportKind.OPT_OUTS:
        return None
    if match := _SUBSCRIPTION.match(value):
        return FieldSpec("subscription", int(match.group(1)))
    if match := _UNSUBSCRIBE_ALL.match(value):
        return FieldSpec("unsubscribe_all", int(match.group(1)))
    if value.startswith(_PROPERTY) and value[len(_PROPERTY) :].strip():
        return FieldSpec("property", name=value[len(_PROPERTY) :].strip())
    return None


_STATUS_WORDS = {
    "subscribed": Status.SUBSCRIBED,
    "opt_in": Status.SUBSCRIBED,
    "opted_in": Status.SUBSCRIBED,
    "unsubscribed": Status.UNSUBSCRIBED,
    "opt_out": Status.UNSUBSCRIBED,
    "opted_out": Status.UNSUBSCRIBED,
    "not_specified": Status.NOT_SPECIFIED,
    "not_opted": Status.NOT_SPECIFIED,
}
_TRUE, _FALSE = frozenset({"true", "yes", "1"}), frozenset({"false", "no", "0"})


def parse_status(cell: str) -> Status | LineReason | None:
    """A status cell: a Status, None for an empty cell (no change), or UNKNOWN_STATUS."""
    key = header_key(cell)
    if not key:
        return None
    return _STATUS_WORDS.get(key, LineReason.UNKNOWN_STATUS)


def parse_flag(cell: str) -> bool | LineReason | None:
    """An `unsubscribe_all:<unit>` cell: True, False, None when empty, or UNKNOWN_VALUE."""
    key = cell.strip().lower()
    if not key:
        return None
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    return LineReason.UNKNOWN_VALUE


def judge_erased_line() -> Verdict:
    """R10 + R22: an import never writes an erased address again — not even an opt-out,
    which would store the address in clear; the erasure already suppresses it."""
    return refused(Reason.ERASED)


def bucket(outcome: Outcome | str, reason: str | None) -> str:
    """The import's four counts: CHANGED, UNCHANGED, REFUSED (the rules said no), INVALID."""
    if str(outcome) == Outcome.REFUSED and reason in LINE_REASONS:
        return "INVALID"
    return str(outcome)


def summarize(counts: Mapping[str, object]) -> dict[str, object]:
    """A job's counts (CHANGED/UNCHANGED/REFUSED + by_reason) as an import's four."""
    by_reason = dict(counts.get("by_reason") or {})  # type: ignore[call-overload]
    invalid = sum(int(n) for reason, n in by_reason.items() if reason in LINE_REASONS)
    return {
        "CHANGED": int(counts.get("CHANGED") or 0),  # type: ignore[call-overload]
        "UNCHANGED": int(counts.get("UNCHANGED") or 0),  # type: ignore[call-overload]
        "REFUSED": int(counts.get("REFUSED") or 0) - invalid,  # type: ignore[call-overload]
        "INVALID": invalid,
        "by_reason": by_reason,
    }
