"""What the sending providers' feedback means (SPEC R19, R5, R11): ONE mapping.

Each provider's parser (`assent/inbound/<provider>.py`) only translates its payload into a
provider-neutral `FeedbackEvent`; `effect_of` says what that event changes. No provider is
named below: a hard bounce from SES and one from Mailgun mean the same thing.

| event              | effect                                                           | source           |
|--------------------|------------------------------------------------------------------|------------------|
| HARD_BOUNCE        | the address UNDELIVERABLE, the diagnostic as evidence (R11)      | BOUNCE (PROVIDER)|
| SOFT_BOUNCE        | counted on the address, never suppressing                        | BOUNCE (PROVIDER)|
| COMPLAINT          | the unit's wide opt-out, set by the CONTACT (R8)                 | SPAM_COMPLAINT   |
| UNSUBSCRIBE        | the type's opt-out (group → type, else metadata type), else wide | ESP_UNSUBSCRIBE  |
| GROUP_RESUBSCRIBE  | nothing: recorded as evidence only (R5: not the contact's act)   | ESP_UNSUBSCRIBE  |
| DELIVERY, OTHER    | nothing                                                          |                  |

Which type and unit: the message's metadata (`assent_subscription_type_id`,
`assent_business_unit_id`, see `metadata_for`). An event that names a SendGrid unsubscribe
group maps it through the type whose `sendgrid_group_id` it is, else the unit's wide
opt-out. Ids that name no EMAIL type or no unit Assent has are ignored as if absent: an
opt-out is then the wider one (of the default unit), never lost.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from assent.domain.model import Source

TYPE_KEY = "assent_subscription_type_id"
UNIT_KEY = "assent_business_unit_id"
DEFAULT_UNIT = 0


class FeedbackKind(StrEnum):
    HARD_BOUNCE = "HARD_BOUNCE"
    SOFT_BOUNCE = "SOFT_BOUNCE"
    COMPLAINT = "COMPLAINT"
    UNSUBSCRIBE = "UNSUBSCRIBE"
    GROUP_RESUBSCRIBE = "GROUP_RESUBSCRIBE"
    DELIVERY = "DELIVERY"
    OTHER = "OTHER"


class EffectKind(StrEnum):
    UNDELIVERABLE = "UNDELIVERABLE"
    SOFT_BOUNCE = "SOFT_BOUNCE"
    WIDE_OPT_OUT = "WIDE_OPT_OUT"
    TYPE_OPT_OUT = "TYPE_OPT_OUT"
    EVIDENCE = "EVIDENCE"  # recorded, changes nothing
    NOTHING = "NOTHING"  # not even recorded


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """One provider event about one recipient, in no provider's words."""

    provider: str
    #: the provider's own id of the event (dedup key)
    event_id: str
    kind: FeedbackKind
    recipient: str
    #: when the provider says it happened
    at: dt.datetime | None = None
    #: the provider's words about it (SMTP status and text, bounce type, …)
    diagnostic: str | None = None
    #: from the message's metadata, as sent (not yet checked against what exists)
    subscription_type_id: int | None = None
    business_unit_id: int | None = None
    #: a SendGrid unsubscribe group (asm_group_id)
    group_id: int | None = None


@dataclass(frozen=True, slots=True)
class TypeRef:
    """What the mapping needs to know of an EMAIL subscription type."""

    id: int
    business_unit_id: int


@dataclass(frozen=True, slots=True)
class Catalog:
    """The EMAIL types and the units that exist, and the SendGrid groups of the types."""

    types: Mapping[int, TypeRef]
    units: Collection[int]
    groups: Mapping[int, int]  # sendgrid_group_id → type id


@dataclass(frozen=True, slots=True)
class Effect:
    kind: EffectKind
    source: Source | None = None
    business_unit_id: int | None = None
    subscription_type_id: int | None = None


NOTHING = Effect(EffectKind.NOTHING)


def effect_of(event: FeedbackEvent, catalog: Catalog) -> Effect:
    """What `event` changes (see the table in the module docstring)."""
    kind = event.kind
    if kind is FeedbackKind.HARD_BOUNCE:
        return Effect(EffectKind.UNDELIVERABLE, Source.BOUNCE)
    if kind is FeedbackKind.SOFT_BOUNCE:
        return Effect(EffectKind.SOFT_BOUNCE, Source.BOUNCE)
    if kind is FeedbackKind.COMPLAINT:
        return Effect(EffectKind.WIDE_OPT_OUT, Source.SPAM_COMPLAINT, _unit(event, catalog))
    if kind in (FeedbackKind.UNSUBSCRIBE, FeedbackKind.GROUP_RESUBSCRIBE):
        found = _type(event, catalog)
        if kind is FeedbackKind.GROUP_RESUBSCRIBE:
            # R5: leaving an opt-out needs the contact's explicit act in Assent (or a user's);
            # a provider saying so is evidence, not that act.
            unit = found.business_unit_id if found else _unit(event, catalog)
            return Effect(EffectKind.EVIDENCE, Source.ESP_UNSUBSCRIBE, unit, found.id if found else None)
        if found is not None:
            return Effect(EffectKind.TYPE_OPT_OUT, Source.ESP_UNSUBSCRIBE, found.business_unit_id, found.id)
        return Effect(EffectKind.WIDE_OPT_OUT, Source.ESP_UNSUBSCRIBE, _unit(event, catalog))
    return NOTHING


def _type(event: FeedbackEvent, catalog: Catalog) -> TypeRef | None:
    if event.group_id is not None:
        # A group names what the person left; unknown to Assent, it means the whole unit.
        type_id = catalog.groups.get(event.group_id)
        return catalog.types.get(type_id) if type_id is not None else None
    if event.subscription_type_id is not None:
        return catalog.types.get(event.subscription_type_id)
    return None


def _unit(event: FeedbackEvent, catalog: Catalog) -> int:
    if event.business_unit_id is not None and event.business_unit_id in catalog.units:
        return event.business_unit_id
    found = catalog.types.get(event.subscription_type_id) if event.subscription_type_id is not None else None
    if found is None and event.group_id is not None:
        group_type = catalog.groups.get(event.group_id)
        found = catalog.types.get(group_type) if group_type is not None else None
    return found.business_unit_id if found else DEFAULT_UNIT


def metadata_id(value: object) -> int | None:
    """A metadata id as a provider hands it back (a string, or a one-item list for SES
    tags); None when it is absent or not a plain non-negative integer."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= 12:
        return int(value.strip())
    return None


def metadata_for(business_unit_id: int, subscription_type_id: int | None) -> dict[str, object]:
    """The metadata to attach to a message, in each provider's own shape, so that its
    feedback names the type and unit (`POST /api/v1/links` returns it)."""
    values = {UNIT_KEY: str(business_unit_id)}
    if subscription_type_id is not None:
        values = {TYPE_KEY: str(subscription_type_id), **values}
    return {
        "values": values,
        "sendgrid": {"custom_args": values},
        "mailgun": {
            "headers": {"X-Mailgun-Variables": json.dumps(values, separators=(",", ":"))},
            "form_fields": {f"v:{key}": value for key, value in values.items()},
        },
        "postmark": {"Metadata": values},
        "ses": {"Tags": [{"Name": key, "Value": value} for key, value in values.items()]},
    }
