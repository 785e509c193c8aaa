"""Audit events: changes that are not per address (SPEC R24's ledger keeps those), named once.

A tag reads "subject:object:action". The values are stored and served by `GET
/api/v1/audit`: never rename one, add a new one instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from assent.domain.model import ActorClass


class AuditTag(StrEnum):
    DATA_PRIVACY_MODE_SET = "account:data_privacy_mode:set"
    SETTINGS_UPDATED = "account:settings:updated"
    DEMO_SEEDED = "account:demo:seeded"
    BUSINESS_UNIT_CREATED = "catalog:business_unit:created"
    BUSINESS_UNIT_UPDATED = "catalog:business_unit:updated"
    SUBSCRIPTION_TYPE_CREATED = "catalog:subscription_type:created"
    SUBSCRIPTION_TYPE_UPDATED = "catalog:subscription_type:updated"
    SUBSCRIPTION_TYPE_ARCHIVED = "catalog:subscription_type:archived"
    SUBSCRIPTION_TYPE_RESTORED = "catalog:subscription_type:restored"
    SUBSCRIPTION_TYPE_MOVED = "catalog:subscription_type:moved"
    USER_CREATED = "user:user:created"
    USER_ROLE_CHANGED = "user:user:role_changed"
    USER_DISABLED = "user:user:disabled"
    USER_ENABLED = "user:user:enabled"
    USER_PASSWORD_RESET = "user:user:password_reset"  # noqa: S105  (a tag, not a password)
    API_KEY_CREATED = "auth:api_key:created"
    API_KEY_REVOKED = "auth:api_key:revoked"
    FORM_KEY_CREATED = "forms:form_key:created"
    FORM_KEY_ROTATED = "forms:form_key:rotated"

    @property
    def subject(self) -> str:
        return self.value.split(":")[0]


@dataclass(frozen=True, slots=True)
class AuditActor:
    """Who made an account change, named as the ledger names actors (kind + id)."""

    kind: ActorClass
    #: "user:<id>" for a signed-in user, "api_key:<id>" for a key, "cli" for the command line
    id: str | None = None


#: the command line (`assent user …`, `assent api-key …`, `assent serve --demo`)
COMMAND_LINE = AuditActor(ActorClass.SYSTEM, "cli")
