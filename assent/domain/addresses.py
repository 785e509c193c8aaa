"""Address normalization (SPEC R1). Pure: the libraries used here do no I/O.

An email address keeps its local part as given for display but is *matched* without case;
the domain is lower-cased and IDNA-encoded. `+tags` and dots are never stripped. Phone
numbers become E.164 through `phonenumbers`.
"""

from __future__ import annotations

import re
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


# A conservative subset of what email-validator accepts (dot-atom local part, LDH labels,
# an alphabetic TLD). Addresses that match are normalized here in a microsecond; anything
# else — IDN, quoted parts, odd lengths — goes through email-validator. A property test
# (tests/domain/test_addresses.py) checks the two agree on every input the pattern takes.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_FAST_EMAIL = re.compile(rf"({_ATEXT}{{1,64}}(?:\.{_ATEXT}+)*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SPECIAL_USE = frozenset(email_validator.SPECIAL_USE_DOMAIN_NAMES)


def normalize_email(raw: str) -> Address:
    text = raw.strip()
    match = _FAST_EMAIL.fullmatch(text)
    if match and len(text) <= 254 and len(match.group(1)) <= 64:
        local, domain = match.group(1), match.group(2).lower()
        if "--" not in domain and not _special(domain):
            return _email(local, domain)
    try:
        valid = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError as error:
        raise InvalidAddress(str(error)) from None
    if valid.ascii_email is None:
        # SMTPUTF8 local parts cannot be matched case-insensitively in a portable way
        # and most senders cannot deliver to them.
        raise InvalidAddress("The part before the @-sign must be ASCII.")
    return _email(valid.local_part, valid.ascii_domain)


def _special(domain: str) -> bool:
    return any(domain.endswith("." + name) or domain == name for name in _SPECIAL_USE)


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
