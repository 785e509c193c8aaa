"""The ledger as the admin's screens show it: each event described in words. Reading the
ledger is `assent.services.events`."""

from __future__ import annotations

from typing import Any

from assent.admin import words
from assent.domain.model import EventKind
from assent.services.events import TEXT_ACTOR


def describe(row: dict[str, Any], named: dict[str, dict[Any, Any]]) -> dict[str, Any]:
    """One event as the screens show it: what changed, by whom, how, on what basis."""
    channel = row["channel"]
    if row["kind"] == EventKind.WIDE_OPT_OUT:
        unit = named["units"].get(row["business_unit_id"], f"business unit {row['business_unit_id']}")
        what = f"All {words.CHANNEL_IN_TEXT.get(channel, channel)} ({unit})"
    elif row["subscription_type_id"]:
        what = named["types"].get(row["subscription_type_id"], f"type {row['subscription_type_id']}")
    else:
        what = words.EVENT_KIND.get(row["kind"], row["kind"])
    who = words.ACTOR.get(row["actor_kind"], row["actor_kind"])
    actor_id = row["actor_id"]
    text = named.get("messages", {}).get((actor_id or "").removeprefix(TEXT_ACTOR)) if actor_id else None
    if text is not None:
        who = f"{who} (by {words.CHANNEL.get(text['channel'], text['channel'])} text)"
    elif actor_id:
        who = f"{who} ({named['users'].get(actor_id, actor_id)})"
    return {
        **row,
        "what": what,
        "who": who,
        "how": words.source(row["source"]),
        "basis": words.legal_basis(row["legal_basis"]),
        "processing_basis": words.legal_basis(row["processing_legal_basis"]),
        "channel_word": words.CHANNEL.get(channel, channel),
        "text_message": text,
    }
