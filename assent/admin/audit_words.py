"""Account changes (audit events) in plain words: what changed, from what to what, by whom."""

from __future__ import annotations

from typing import Any

from assent.admin import words
from assent.domain.audit import AuditTag

SUBJECTS = {
    "account": "Settings",
    "catalog": "Business units and subscription types",
    "user": "Users and roles",
    "auth": "API keys",
    "forms": "Form keys",
}

WHAT = {
    AuditTag.DATA_PRIVACY_MODE_SET: "Changed data privacy mode",
    AuditTag.SETTINGS_UPDATED: "Changed settings",
    AuditTag.DEMO_SEEDED: "Seeded the demo data",
    AuditTag.BUSINESS_UNIT_CREATED: "Created a business unit",
    AuditTag.BUSINESS_UNIT_UPDATED: "Edited a business unit",
    AuditTag.SUBSCRIPTION_TYPE_CREATED: "Created a subscription type",
    AuditTag.SUBSCRIPTION_TYPE_UPDATED: "Edited a subscription type",
    AuditTag.SUBSCRIPTION_TYPE_ARCHIVED: "Archived a subscription type",
    AuditTag.SUBSCRIPTION_TYPE_RESTORED: "Restored a subscription type",
    AuditTag.SUBSCRIPTION_TYPE_MOVED: "Moved a subscription type",
    AuditTag.USER_CREATED: "Added a user",
    AuditTag.USER_ROLE_CHANGED: "Changed a user's role",
    AuditTag.USER_DISABLED: "Disabled a user",
    AuditTag.USER_ENABLED: "Enabled a user again",
    AuditTag.USER_PASSWORD_RESET: "Set a new password",
    AuditTag.API_KEY_CREATED: "Created an API key",
    AuditTag.API_KEY_REVOKED: "Revoked an API key",
    AuditTag.FORM_KEY_CREATED: "Created a form key",
    AuditTag.FORM_KEY_ROTATED: "Replaced a form key",
}

FIELDS = {
    "data_privacy_mode": "Data privacy mode",
    "consent_required_to_send": "Consent required to send",
    "double_opt_in": "Double opt-in",
    "default_phone_region": "Default phone region",
    "sms_numbers": "SMS numbers",
    "name": "Name",
    "description": "Description",
    "purpose": "Purpose",
    "is_active": "Active",
    "position": "Position",
    "translations": "Translations",
    "channel": "Channel",
    "business_unit_id": "Business unit",
    "default_language": "Default language",
    "company_name": "Company name",
    "postal_address": "Postal address",
    "logo_url": "Logo",
    "primary_color": "Primary colour",
    "accent_color": "Accent colour",
    "sms_help_text": "SMS help text",
    "notice_text": "Notice text",
    "notice_version": "Notice version",
    "email": "Email",
    "role": "Role",
    "disabled": "Disabled",
    "scopes": "Scopes",
    "order": "Order",
    "contacts": "Contacts",
    "business_units": "Business units",
    "revoked": "Revoked",
}

_SWITCHES = frozenset({"data_privacy_mode", "consent_required_to_send", "double_opt_in"})
#: fields a creation shows (the rest of the row is in the API's `after`)
_CREATED = ("name", "channel", "business_unit_id", "email", "role", "scopes", "business_units", "contacts")


def _value(field: str, value: Any) -> str:
    if value is None or value == "" or value == {} or value == []:
        return "none"
    if isinstance(value, bool):
        if field in _SWITCHES:
            return "on" if value else "off"
        return "yes" if value else "no"
    if field == "channel":
        return words.CHANNEL.get(str(value), str(value))
    if isinstance(value, dict):
        return ", ".join(f"{k} → {v}" if not isinstance(v, dict) else k for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return f"“{value}”" if isinstance(value, str) else str(value)


def changes(row: dict[str, Any]) -> list[str]:
    """ "Data privacy mode: off → on", one line per changed field."""
    before, after = row.get("before"), row.get("after") or {}
    if before is None:
        return [f"{FIELDS.get(k, k)}: {_value(k, after[k])}" for k in _CREATED if k in after]
    return [
        f"{FIELDS.get(k, k)}: {_value(k, before.get(k))} → {_value(k, after.get(k))}"
        for k in after
        if k != "email" or before.get(k) != after.get(k)
    ]


def actor(row: dict[str, Any], names: dict[str, str]) -> str:
    """Who: a user's email, an API key's name, or the command line."""
    actor_id = row.get("actor_id")
    if actor_id == "cli":
        return "the command line"
    if actor_id and actor_id in names:
        return names[actor_id]
    return str(actor_id or words.ACTOR.get(row["actor_kind"], row["actor_kind"]))


def describe(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """`names` maps actor ids ("user:<id>", "api_key:<id>") and subjects ("subject:<object of
    the tag>:<id>") to what the screen calls them."""
    tag = AuditTag(row["tag"])
    after = row.get("after") or {}
    thing = tag.value.split(":")[1]
    subject = names.get(f"subject:{thing}:{row.get('subject_id')}") or after.get("email") or after.get("name")
    return {**row, "what": WHAT[tag], "subject": subject, "changes": changes(row), "who": actor(row, names)}
