"""Workflows (SPEC R23): an enrollment trigger and actions that manage subscription status.

Plain data and functions: which trigger a contact change or a form submission fires, and
what a workflow's actions ask for. Whether an action may change anything is never decided
here — every action goes through `Writer` as source WORKFLOW, so R5 (a workflow never
resubscribes), R7, R10 and R6 apply exactly as they do to every other actor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class TriggerType(StrEnum):
    CONTACT_CREATED = "CONTACT_CREATED"
    PROPERTY_CHANGED = "PROPERTY_CHANGED"
    FORM_SUBMITTED = "FORM_SUBMITTED"
    MANUAL = "MANUAL"


class ActionType(StrEnum):
    SET_SUBSCRIPTION_STATUS = "SET_SUBSCRIPTION_STATUS"
    SET_UNSUBSCRIBE_ALL = "SET_UNSUBSCRIBE_ALL"


#: Contact fields a PROPERTY_CHANGED trigger may watch besides the free-form properties.
CONTACT_FIELDS = ("email", "phone", "first_name", "last_name", "company")

#: A contact with no address on the action's channel.
NO_ADDRESS_ON_CHANNEL = "NO_ADDRESS_ON_CHANNEL"


@dataclass(frozen=True)
class ContactChange:
    """A contact created or updated, as a trigger sees it: its fields and properties before
    (None when created) and after."""

    contact_id: int
    before: Mapping[str, Any] | None
    after: Mapping[str, Any]

    @property
    def created(self) -> bool:
        return self.before is None


def _value(contact: Mapping[str, Any] | None, name: str) -> Any:
    if contact is None:
        return None
    if name in CONTACT_FIELDS:
        return contact.get(name)
    return (contact.get("properties") or {}).get(name)


def fires_on_change(trigger: Mapping[str, Any], change: ContactChange) -> bool:
    """Does this contact change enroll the contact in a workflow with `trigger`?"""
    kind = trigger.get("type")
    if kind == TriggerType.CONTACT_CREATED:
        return change.created
    if kind == TriggerType.PROPERTY_CHANGED:
        name, wanted = str(trigger.get("property")), trigger.get("value")
        now = _value(change.after, name)
        # "set to that value": it is that value now, and was not before (a create counts).
        return _same(now, wanted) and not _same(_value(change.before, name), wanted)
    return False


def fires_on_form(trigger: Mapping[str, Any], business_unit_id: int) -> bool:
    if trigger.get("type") != TriggerType.FORM_SUBMITTED:
        return False
    unit = trigger.get("business_unit_id")
    return unit is None or int(unit) == business_unit_id


def _same(value: Any, wanted: Any) -> bool:
    if value is None or wanted is None:
        return value is None and wanted is None
    return str(value).strip() == str(wanted).strip()
