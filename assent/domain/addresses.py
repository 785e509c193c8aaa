"""Address normalization (SPEC R1). Pure: the libraries used here do no I/O.

An email address keeps its local part as given for display but is *matched* without case;
the domain is lower-cased and IDNA-encoded. `+tags` and dots are never stripped. Phone
numbers become E.164 through `phonenumbers`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import email_validator
import phonenumbers

from assent.domain.model import Channel


class InvalidAddress(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Address:
    channel: Channel
    #: the form every table is keyed by: what two spellings of one address share
    key: str
    #: the form shown to people
    display: str


# A conservative subset of what email-validator accepts: a dot-atom local part of at most 64
# characters, LDH labels of at most 63 without "--" (so no IDNA "xn--" labels), an alphabetic
# TLD that is not a special-use name (.test, .local, …), at most 254 characters in all.
# Addresses that match are normalized here in a microsecond; anything else — IDN, quoted parts,
# odd lengths — goes through email-validator. Property tests
# (tests/domain/test_addresses_fastpath.py) check that the two agree on every input the
# pattern takes, and that `normalize_many` agrees with `normalize`. Possessive quantifiers
# cannot change what matches here (an atom ends at "." or "@", a label at "-" or "."); they
# only spare the regex engine from backtracking.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_MAX_FAST_LENGTH = 254
_SPECIAL_USE = tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES)


def _fast_pattern(lower_case_domain: bool) -> str:
    def letters(word: str) -> str:
        if lower_case_domain:
            return re.escape(word)
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)

    alpha = "a-z" if lower_case_domain else "A-Za-z"
    ldh = f"[{alpha}0-9]"
    special = "|".join(letters(name) for name in _SPECIAL_USE)
    return (
        rf"(?=[^@\n]{{1,64}}@)({_ATEXT}{{1,64}}+(?:\.{_ATEXT}++)*+)"
        rf"@((?:(?=[{alpha}0-9-]{{1,63}}\.){ldh}++(?:-{ldh}++)*+\.)++"
        rf"(?!(?:{special})$)[{alpha}]{{2,63}})"
    )


_FAST_EMAIL = re.compile(_fast_pattern(lower_case_domain=False))
#: A run of lines the fast path takes, each ending in a newline. Lines whose domain has a
#: capital letter are not among them (rare), so that every line it takes is its own display.
_FAST_LINES = re.compile(rf"(?:{_fast_pattern(lower_case_domain=True)}\n)*", re.MULTILINE)


def normalize_email(raw: str) -> Address:
    text = raw.strip()
    match = _FAST_EMAIL.fullmatch(text) if len(text) <= _MAX_FAST_LENGTH else None
    if match:
        return _email(match.group(1), match.group(2).lower())
    return _validated_email(text)


def _validated_email(text: str) -> Address:
    """The slow path: everything email-validator accepts, as it normalizes it."""
    try:
        valid = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError as error:
        raise InvalidAddress(str(error)) from None
    if valid.ascii_email is None:
        # SMTPUTF8 local parts cannot be matched case-insensitively in a portable way
        # and most senders cannot deliver to them.
        raise InvalidAddress("The part before the @-sign must be ASCII.")
    return _email(valid.local_part, valid.ascii_domain)


def _email(local: str, domain: str) -> Address:
    display = f"{local}@{domain}"
    return Address(Channel.EMAIL, f"{local.lower()}@{domain}", display)


def normalize_phone(raw: str, channel: Channel, default_region: str | None) -> Address:
    text = raw.strip()
    if text.lower().startswith("whatsapp:"):
        text = text[len("whatsapp:") :]
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidAddress(f"Not a phone number: {error}.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidAddress("Not a valid phone number for its country.")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Address(channel, e164, e164)


def normalize(channel: Channel, raw: str, default_region: str | None = None) -> Address:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidAddress("An address is required.")
    if len(raw) > 320:
        raise InvalidAddress("The address is longer than 320 characters.")
    if channel is Channel.EMAIL:
        return normalize_email(raw)
    return normalize_phone(raw, channel, default_region)


def normalize_many(
    channel: Channel, raws: Sequence[str], default_region: str | None = None
) -> tuple[list[str | None], list[str]]:
    """`normalize` for many addresses at once: (keys, displays), positionally, with key None
    and the raw text as display where an address is invalid.

    Streams of millions go through here. For email, the regex engine walks the whole block,
    stopping only at the few lines the fast path does not take; every other line is its own
    display form and its key is its lower-case form (fast-path addresses are ASCII).
    """
    if not raws:
        return [], []
    text = "\n".join(raws) + "\n"
    if (
        channel is not Channel.EMAIL
        or text.count("\n") != len(raws)
        or max(map(len, raws)) > _MAX_FAST_LENGTH
    ):
        return _one_by_one(channel, raws, default_region)
    keys: list[str | None] = list(text.lower().split("\n"))
    keys.pop()  # after the last newline
    displays = list(raws)
    line = position = 0
    while True:
        # One match takes every line up to the next one the fast path does not take.
        stop = _FAST_LINES.match(text, position).end()  # type: ignore[union-attr]
        line += text.count("\n", position, stop)
        if stop == len(text):
            return keys, displays
        raw = raws[line]
        if "@" not in raw or raw.rstrip().endswith("@"):
            keys[line] = None  # surely not an address: spare email-validator the work
        else:
            try:
                address = normalize(channel, raw, default_region)
                keys[line], displays[line] = address.key, address.display
            except InvalidAddress:
                keys[line] = None
        position = text.index("\n", stop) + 1
        line += 1


def _one_by_one(
    channel: Channel, raws: Sequence[str], default_region: str | None
) -> tuple[list[str | None], list[str]]:
    keys: list[str | None] = []
    displays: list[str] = []
    for raw in raws:
        try:
            address = normalize(channel, raw, default_region)
        except InvalidAddress:
            keys.append(None)
            displays.append(raw)
            continue
        keys.append(address.key)
        displays.append(address.display)
    return keys, displays
