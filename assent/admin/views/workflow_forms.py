"""The workflow editor's form: its fields read into the workflows action's values, the
action's field errors put back on the form's fields, and workflows said in words."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from assent.admin import words
from assent.domain.model import Channel, LegalBasis, Status
from assent.domain.workflows import ActionType, TriggerType
from assent.services import catalog

MAX_ACTIONS = 20
ACTION_FIELDS = (
    "type",
    "channel",
    "subscription_type_id",
    "status",
    "business_unit_id",
    "legal_basis",
    "processing_legal_basis",
    "legal_basis_explanation",
)


def _choice(raw: Any, allowed: Any, default: str = "") -> str:
    return raw if isinstance(raw, str) and raw in allowed else default


def _number(raw: Any) -> int | None:
    return int(raw) if isinstance(raw, str) and raw.isdecimal() and len(raw) < 10 else None


def _text(raw: Any, limit: int) -> str:
    return str(raw or "").strip()[:limit] if isinstance(raw, str) else ""


@dataclass
class Editor:
    """The form's state: what the user chose, as the template shows it again."""

    name: str = ""
    enabled: bool = True
    reenroll: bool = False
    trigger: dict[str, Any] = field(default_factory=lambda: {"type": TriggerType.MANUAL.value})
    actions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of_workflow(cls, workflow: dict[str, Any]) -> Editor:
        return cls(
            name=workflow["name"],
            enabled=workflow["enabled"],
            reenroll=workflow["reenroll"],
            trigger=dict(workflow["trigger"]),
            actions=[dict(a) for a in workflow["actions"]],
        )

    def rows(self) -> list[dict[str, Any]]:
        """The actions plus one empty row to add another (an empty row is ignored)."""
        rows = [*self.actions]
        if len(rows) < MAX_ACTIONS:
            rows.append({"type": "", "channel": Channel.EMAIL.value})
        return rows

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "reenroll": self.reenroll,
            "trigger": self.trigger,
            "actions": self.actions,
        }


def editor_of(form: Any) -> Editor:
    kind = _choice(form.get("trigger"), TriggerType.__members__, TriggerType.MANUAL.value)
    trigger: dict[str, Any] = {"type": kind}
    if kind == TriggerType.PROPERTY_CHANGED:
        trigger["property"] = _text(form.get("property"), 200)
        trigger["value"] = _text(form.get("value"), 2000) or None
    elif kind == TriggerType.FORM_SUBMITTED and _number(form.get("form_business_unit_id")) is not None:
        trigger["business_unit_id"] = _number(form.get("form_business_unit_id"))
    count = min(_number(form.get("action_count")) or 0, MAX_ACTIONS)
    actions = []
    for i in range(count):
        kind = _choice(form.get(f"a{i}_type"), ActionType.__members__)
        if not kind:
            continue  # the empty row
        action: dict[str, Any] = {
            "type": kind,
            "channel": _choice(form.get(f"a{i}_channel"), Channel.__members__, Channel.EMAIL.value),
        }
        if kind == ActionType.SET_SUBSCRIPTION_STATUS:
            action["subscription_type_id"] = _number(form.get(f"a{i}_subscription_type_id"))
            action["status"] = _choice(form.get(f"a{i}_status"), Status.__members__) or None
            for name in ("legal_basis", "processing_legal_basis"):
                if chosen := _choice(form.get(f"a{i}_{name}"), LegalBasis.__members__):
                    action[name] = chosen
            if explanation := _text(form.get(f"a{i}_legal_basis_explanation"), 4000):
                action["legal_basis_explanation"] = explanation
        else:
            action["business_unit_id"] = _number(form.get(f"a{i}_business_unit_id")) or 0
        actions.append(action)
    return Editor(
        name=_text(form.get("name"), 200),
        enabled=form.get("enabled") == "1",
        reenroll=form.get("reenroll") == "1",
        trigger=trigger,
        actions=actions,
    )


def form_errors(editor: Editor) -> dict[str, str]:
    """What the form must have before the action is asked (the action checks the rest)."""
    errors = {}
    if not editor.name:
        errors["name"] = "Give the workflow a name."
    if not editor.actions:
        errors["actions"] = "Add at least one action: choose what it does in the empty row."
    for i, action in enumerate(editor.actions):
        if action["type"] == ActionType.SET_SUBSCRIPTION_STATUS:
            if action.get("subscription_type_id") is None:
                errors[f"a{i}_subscription_type_id"] = "Choose a subscription type of this channel."
            if action.get("status") is None:
                errors[f"a{i}_status"] = "Choose Opt in, Not opted or Opt out."
    return errors


_ACTION_FIELD = re.compile(r"^actions\[(\d+)\]\.(\w+)$")


def field_of(key: str) -> str:
    """The action's field names (`actions[0].legal_basis`, `trigger.property`) → the form's."""
    if found := _ACTION_FIELD.match(key):
        return f"a{found.group(1)}_{found.group(2)}"
    return key.removeprefix("trigger.")


@dataclass
class Names:
    """Names of the types and units a workflow refers to."""

    types: dict[int, dict[str, Any]]
    units: dict[int, str]

    @classmethod
    def load(cls, conn: Connection) -> Names:
        types = {ty["id"]: ty for ty in catalog.list_subscription_types(conn, include_inactive=True)}
        units = {u["id"]: str(u["name"]) for u in catalog.list_business_units(conn)}
        return cls(types, units)

    def type_name(self, type_id: Any) -> str:
        found = self.types.get(int(type_id)) if type_id is not None else None
        return str(found["name"]) if found else f"type {type_id}"

    def trigger(self, trigger: dict[str, Any]) -> str:
        kind = trigger.get("type", "")
        if kind == TriggerType.PROPERTY_CHANGED:
            value = trigger.get("value")
            return f"“{trigger.get('property')}” changed to " + (f"“{value}”" if value is not None else "empty")
        if kind == TriggerType.FORM_SUBMITTED:
            unit = trigger.get("business_unit_id")
            return "Form submitted" + (f" in {self.units.get(unit, unit)}" if unit is not None else " (any unit)")
        return str(words.TRIGGER.get(kind, kind))

    def action(self, action: dict[str, Any]) -> str:
        channel = words.CHANNEL_IN_TEXT.get(action.get("channel", ""), "")
        if action.get("type") == ActionType.SET_UNSUBSCRIBE_ALL:
            unit = self.units.get(action.get("business_unit_id") or 0, action.get("business_unit_id"))
            return f"Unsubscribe from all {channel} in {unit}"
        verb = {"SUBSCRIBED": "Opt in to", "NOT_SPECIFIED": "Set “Not opted” for", "UNSUBSCRIBED": "Opt out of"}
        name = self.type_name(action.get("subscription_type_id"))
        return f"{verb.get(action.get('status') or '', 'Set')} {name} ({channel})"
