"""Account settings (data privacy mode, double opt-in, phone region, SMS numbers)."""

from __future__ import annotations

from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assent.domain.keywords import RevocationPolicy
from assent.services.errors import Collected
from assent.storage import tables as t

PUBLIC = (
    "data_privacy_mode",
    "consent_required_to_send",
    "double_opt_in",
    "default_phone_region",
    "sms_numbers",
    "sms_revocation_policy",
)


def get_settings(conn: Connection) -> dict[str, Any]:
    row = conn.execute(sa.select(t.account_settings).where(t.account_settings.c.id == 1)).one()
    return {name: getattr(row, name) for name in (*PUBLIC, "updated_at")}


def update_settings(conn: Connection, changes: dict[str, Any]) -> dict[str, Any]:
    problems = Collected()
    values = dict(changes)
    region = values.get("default_phone_region")
    if region is not None:
        region = str(region).upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            problems.add("default_phone_region", f"{region!r} is not an ISO 3166 region phonenumbers knows")
        values["default_phone_region"] = region
    if "sms_numbers" in values:
        numbers: dict[str, int] = {}
        known = set(conn.execute(sa.select(t.business_units.c.id)).scalars())
        for raw, bu_id in (values["sms_numbers"] or {}).items():
            try:
                parsed = phonenumbers.parse(raw, None)
                valid = phonenumbers.is_valid_number(parsed)
            except phonenumbers.NumberParseException:
                valid = False
            if not valid:
                problems.add(f"sms_numbers.{raw}", "not an E.164 phone number", "INVALID_ADDRESS")
                continue
            if bu_id not in known:
                problems.add(f"sms_numbers.{raw}", f"business unit {bu_id} does not exist", "UNKNOWN_BUSINESS_UNIT")
                continue
            numbers[phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)] = bu_id
        values["sms_numbers"] = numbers
    policy = values.get("sms_revocation_policy")
    if policy is not None:
        choices = [p.value for p in RevocationPolicy]
        if str(policy) not in choices:
            problems.add("sms_revocation_policy", f"must be one of {', '.join(choices)}")
        values["sms_revocation_policy"] = str(policy)
    problems.raise_if_any()
    if values:
        conn.execute(
            sa.update(t.account_settings).where(t.account_settings.c.id == 1).values(**values, updated_at=t.now())
        )
    return get_settings(conn)
