"""Every code the admin UI shows, in plain words — in ONE place, reused by every screen.

Reason codes come from the domain core (R9); the screens never show a bare code where a
sentence can say what happened and what the user can do about it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from assent.domain.model import (
    ActorClass,
    Channel,
    ConfirmationState,
    EventKind,
    EventState,
    JobStatus,
    LegalBasis,
    Outcome,
    Reason,
    Source,
    Status,
    Verdict,
)

STATUS = {
    Status.SUBSCRIBED.value: "Opted in",
    Status.NOT_SPECIFIED.value: "Not opted",
    Status.UNSUBSCRIBED.value: "Opted out",
}

CHANNEL = {Channel.EMAIL.value: "Email", Channel.SMS.value: "SMS", Channel.WHATSAPP.value: "WhatsApp"}
#: the channel inside a sentence ("unsubscribed from all email")
CHANNEL_IN_TEXT = {Channel.EMAIL.value: "email", Channel.SMS.value: "SMS", Channel.WHATSAPP.value: "WhatsApp"}

LEGAL_BASIS = {
    LegalBasis.LEGITIMATE_INTEREST_PQL.value: "Legitimate interest – prospect/lead",
    LegalBasis.LEGITIMATE_INTEREST_CLIENT.value: "Legitimate interest – existing customer",
    LegalBasis.LEGITIMATE_INTEREST_OTHER.value: "Legitimate interest – other",
    LegalBasis.PERFORMANCE_OF_CONTRACT.value: "Performance of a contract",
    LegalBasis.CONSENT_WITH_NOTICE.value: "Freely given consent from contact",
    LegalBasis.NON_GDPR.value: "Not applicable (not subject to GDPR)",
    LegalBasis.PROCESS_AND_STORE.value: "Consent to process and store",
}

SOURCE = {
    Source.PREFERENCE_CENTER.value: "Preference page",
    Source.ONE_CLICK.value: "One-click unsubscribe",
    Source.SMS_KEYWORD.value: "SMS keyword",
    Source.WHATSAPP_KEYWORD.value: "WhatsApp keyword",
    Source.FORM.value: "Form",
    Source.DOUBLE_OPT_IN.value: "Double opt-in confirmation",
    Source.MANUAL.value: "Manual, in the admin UI",
    Source.BULK.value: "Bulk update",
    Source.IMPORT.value: "Import",
    Source.WORKFLOW.value: "Workflow",
    Source.API.value: "API",
    Source.HUBSPOT_API.value: "HubSpot-compatible API",
    Source.BOUNCE.value: "Bounce",
    Source.SPAM_COMPLAINT.value: "Spam complaint",
    Source.ESP_UNSUBSCRIBE.value: "Unsubscribe at the email provider",
    Source.ERASURE.value: "Erasure",
    Source.SYSTEM.value: "System",
}

ACTOR = {
    ActorClass.CONTACT.value: "the person themself",
    ActorClass.USER.value: "a user",
    ActorClass.WORKFLOW.value: "a workflow",
    ActorClass.IMPORT.value: "an import",
    ActorClass.PROVIDER.value: "the email or SMS provider",
    ActorClass.SYSTEM.value: "the system",
}

OUTCOME = {Outcome.CHANGED.value: "Changed", Outcome.UNCHANGED.value: "Already so", Outcome.REFUSED.value: "Refused"}

EVENT_KIND = {
    EventKind.STATUS.value: "Subscription status",
    EventKind.WIDE_OPT_OUT.value: "Unsubscribed from all",
    EventKind.UNDELIVERABLE.value: "Deliverability",
    EventKind.CONFIRMATION.value: "Double opt-in",
    EventKind.ERASURE.value: "Erasure",
    EventKind.SOFT_BOUNCE.value: "Soft bounce",
    EventKind.ESP_RESUBSCRIBE.value: "Resubscribe reported by the email provider (not applied)",
}
#: kinds whose old and new states are subscription statuses (shown as status badges)
STATUS_KINDS = (EventKind.STATUS.value, EventKind.WIDE_OPT_OUT.value)

#: the states of the other kinds of event
EVENT_STATE = {
    EventState.DELIVERABLE.value: "Deliverable",
    EventState.UNDELIVERABLE.value: "Undeliverable",
    EventState.ERASED.value: "Erased",
    EventState.SOFT_BOUNCE.value: "Soft bounce counted",
    EventState.NOT_APPLIED.value: "Not applied",
    ConfirmationState.PENDING.value: "Awaiting confirmation",
    ConfirmationState.CONFIRMED.value: "Confirmed",
}

JOB_STATUS = {
    JobStatus.QUEUED.value: "Waiting for a worker…",
    JobStatus.RUNNING.value: "Working…",
    JobStatus.SUCCEEDED.value: "Done",
    JobStatus.FAILED.value: "Failed",
}


@dataclass(frozen=True, slots=True)
class Refusal:
    #: about one person, on their record
    one: str
    #: a count in a bulk summary; {n} is the count
    many: str


# {channel} is "email", "SMS" or "WhatsApp". In `many`, {n} is the count and {contacts},
# {themselves}, {are}, {were}, {have} agree with it. A key "<REASON>/<ACTOR CLASS>" refines a
# reason by who set the wide opt-out in force, when the screen knows it.
REFUSALS: dict[str, Refusal] = {
    Reason.WIDE_OPT_OUT_IN_FORCE + "/" + ActorClass.CONTACT: Refusal(
        "This person unsubscribed from all {channel} themself; only they can resubscribe — "
        "send them a preference link.",
        "{n} {contacts} unsubscribed from all {channel} {themselves}; only they can resubscribe.",
    ),
    Reason.WIDE_OPT_OUT_IN_FORCE + "/" + ActorClass.USER: Refusal(
        "A user unsubscribed this person from all {channel} here; remove that opt-out first, with a legal basis.",
        "{n} {contacts} {were} unsubscribed from all {channel} by a user; remove that first "
        "(More → Remove an opt-out of all email that a user added).",
    ),
    Reason.WIDE_OPT_OUT_IN_FORCE + "/" + ActorClass.IMPORT: Refusal(
        "An opt-out import unsubscribed this person from all {channel} here; remove that opt-out "
        "first, with a legal basis.",
        "{n} {contacts} {were} unsubscribed from all {channel} by an import; remove that first "
        "(More → Remove an opt-out of all email that a user added).",
    ),
    Reason.WIDE_OPT_OUT_IN_FORCE: Refusal(
        "This person is unsubscribed from all {channel} in this business unit; remove that "
        "first (possible only when a user or an import set it).",
        "{n} {contacts} {are} unsubscribed from all {channel}; remove that opt-out first "
        "(possible only where a user or an import set it).",
    ),
    Reason.WIDE_OPT_OUT_SET_BY_CONTACT: Refusal(
        "This person unsubscribed from all {channel} themself; only they can undo it — send them a preference link.",
        "{n} {contacts} unsubscribed from all {channel} {themselves}; only they can undo it.",
    ),
    Reason.ACTOR_CANNOT_REMOVE_WIDE_OPT_OUT: Refusal(
        "This unsubscribe from all was not set by a user or an import, so a user cannot remove it.",
        "{n} {contacts} {were} unsubscribed from all {channel} by a complaint, a provider or the "
        "system; a user cannot remove that.",
    ),
    Reason.SOURCE_CANNOT_REMOVE_WIDE_OPT_OUT: Refusal(
        "A form, a link click or a complaint never lifts an unsubscribe from all; only the person can, "
        "on their preference page.",
        "{n} {contacts} stayed unsubscribed from all {channel}: only the person can lift that.",
    ),
    Reason.WORKFLOW_CANNOT_RESUBSCRIBE: Refusal(
        "This person opted out; a workflow cannot resubscribe them.",
        "{n} {contacts} had opted out; a workflow cannot resubscribe them.",
    ),
    Reason.IMPORT_CANNOT_RESUBSCRIBE: Refusal(
        "This person opted out; an import cannot resubscribe them.",
        "{n} {contacts} had opted out; an import cannot resubscribe them.",
    ),
    Reason.ACTOR_CANNOT_RESUBSCRIBE: Refusal(
        "This person opted out; only they or a user can resubscribe them.",
        "{n} {contacts} had opted out; only they or a user can resubscribe them.",
    ),
    Reason.EXPLANATION_REQUIRED: Refusal(
        "This person opted out: to resubscribe them, explain why you may (for example, they asked you to).",
        "{n} {contacts} had opted out; resubscribing them needs an explanation.",
    ),
    Reason.LEGAL_BASIS_REQUIRED: Refusal(
        "Data privacy mode is on: choose the legal basis to communicate and explain it.",
        "{n} {contacts} {were} not opted in: data privacy mode needs a legal basis to communicate.",
    ),
    Reason.PROCESSING_LEGAL_BASIS_REQUIRED: Refusal(
        "Data privacy mode is on: choose the legal basis to process this person's data.",
        "{n} {contacts} {were} not opted in: data privacy mode needs a legal basis to process their data.",
    ),
    Reason.NOTICE_REQUIRED: Refusal(
        "A person's own opt-in needs the consent notice they saw.",
        "{n} opt-ins lacked the consent notice the person saw.",
    ),
    Reason.ERASED: Refusal(
        "This address was erased at the person's request; only they can opt in again.",
        "{n} {contacts} {were} erased at the person's request; only they can opt in again.",
    ),
    Reason.INVALID_ADDRESS: Refusal(
        "This is not a valid address.",
        "{n} {contacts} {have} no valid address on this channel.",
    ),
    "NO_ADDRESS": Refusal(
        "This contact has no address on this channel.",
        "{n} {contacts} {have} no address on this channel ({channel}).",
    ),
    "CONTACT_NOT_FOUND": Refusal(
        "This contact no longer exists.",
        "{n} {contacts} no longer {exist}.",
    ),
    "NO_ADDRESS_ON_CHANNEL": Refusal(
        "This contact has no address on this channel ({channel}).",
        "{n} {contacts} {have} no address on this channel ({channel}).",
    ),
}

#: a user's opt-in of a person who never opted out (R5 asks an explanation only in data
#: privacy mode there): the explanation is the legal basis's, not a resubscribe's
OPT_IN_EXPLANATION = "Data privacy mode is on: explain the legal basis in a sentence — why you may send to this person."

#: why the record offers no Subscribe / Resubscribe button, in place of it (a refusal of
#: `rules.may_change_status`); keys as in REFUSALS
NOT_OFFERED = {
    Reason.WIDE_OPT_OUT_IN_FORCE + "/" + ActorClass.CONTACT: (
        "No subscribe: they unsubscribed from all {channel} themself, and only they can undo it."
    ),
    Reason.WIDE_OPT_OUT_IN_FORCE + "/" + ActorClass.USER: (
        "No subscribe: unsubscribed from all {channel} by a user; remove that opt-out first."
    ),
    Reason.WIDE_OPT_OUT_IN_FORCE + "/" + ActorClass.IMPORT: (
        "No subscribe: unsubscribed from all {channel} by an import; remove that opt-out first."
    ),
    Reason.WIDE_OPT_OUT_IN_FORCE: "No subscribe: unsubscribed from all {channel}, which a user cannot remove.",
    Reason.ERASED: "No subscribe: erased at the person's request; only they can opt in again.",
}

_ONE = {"contacts": "contact", "themselves": "themself", "are": "is", "were": "was", "have": "has", "exist": "exists"}
_MANY = {
    "contacts": "contacts",
    "themselves": "themselves",
    "are": "are",
    "were": "were",
    "have": "have",
    "exist": "exist",
}

#: why a message may not be sent (R11), shown next to a status
BLOCKED = {
    Reason.TYPE_INACTIVE.value: "the subscription type is archived",
    Reason.UNDELIVERABLE.value: "the address bounced (undeliverable)",
    Reason.UNSUBSCRIBED_FROM_ALL.value: "unsubscribed from all",
    Reason.UNSUBSCRIBED.value: "opted out",
    Reason.NO_CONSENT.value: "no consent yet",
    Reason.UNCONFIRMED.value: "has not confirmed the address (double opt-in)",
    Reason.ERASED.value: "erased at the person's request",
    Reason.INVALID_ADDRESS.value: "not a valid address",
}


def refusal(reason: str | None, channel: str, *, count: int | None = None, set_by: str | None = None) -> str:
    """A refusal in words: about one person, or `count` of them in a bulk summary."""
    if not reason:
        return ""
    found = REFUSALS.get(f"{reason}/{set_by}") if set_by else None
    found = found or REFUSALS.get(reason)
    word = CHANNEL_IN_TEXT.get(channel, channel.lower())
    if found is None:
        text = reason.replace("_", " ").capitalize() + "."
        return f"{count:,} {'contact' if count == 1 else 'contacts'}: {text}" if count is not None else text
    if count is None:
        return found.one.format(channel=word)
    return found.many.format(channel=word, n=f"{count:,}", **(_ONE if count == 1 else _MANY))


def not_offered(verdict: Verdict, channel: str, *, set_by: str | None = None) -> str:
    """The reason shown instead of a button the rules refuse; "" when the change may be
    made or is so already."""
    if verdict.outcome is not Outcome.REFUSED or verdict.reason is None:
        return ""
    reason = verdict.reason.value
    found = (NOT_OFFERED.get(f"{reason}/{set_by}") if set_by else None) or NOT_OFFERED.get(reason)
    if found is None:
        return refusal(reason, channel)
    return found.format(channel=CHANNEL_IN_TEXT.get(channel, channel.lower()))


def status(code: str | None) -> str:
    return STATUS.get(code or "", code or "")


def legal_basis(code: str | None) -> str:
    return LEGAL_BASIS.get(code or "", code or "")


def source(code: str | None) -> str:
    return SOURCE.get(code or "", code or "")


# --- imports ----------------------------------------------------------------------------------

IMPORT_KIND = {"OPT_OUTS": "Opt-out list", "CONTACTS": "Contacts"}
IMPORT_STATUS = {
    "AWAITING_CONFIRMATION": "Awaiting confirmation",
    "QUEUED": "Waiting for a worker",
    "RUNNING": "Running",
    "DONE": "Done",
    "FAILED": "Failed",
    "CANCELLED": "Cancelled",
}

#: an import's lines by reason: {n} is the count; {would} is "would" before confirming, else
#: the past ("were"); {lines}/{are}/{they} agree with the count
IMPORT_REASONS = {
    "IMPORT_CANNOT_RESUBSCRIBE": "{n} of these {would_not_be} resubscribed: they opted out",
    "WIDE_OPT_OUT_IN_FORCE": "{n} of these {would_not_be} opted in: they unsubscribed from all {channel}",
    "ERASED": "{n} {would_be} skipped: the address was erased at the person's request",
    "ACTOR_CANNOT_REMOVE_WIDE_OPT_OUT": "{n} {would_keep} their “unsubscribed from all”: an import cannot lift it",
    "LEGAL_BASIS_REQUIRED": "{n} {would_not_be} opted in: data privacy mode needs a legal basis",
    "PROCESSING_LEGAL_BASIS_REQUIRED": "{n} {would_not_be} opted in: data privacy mode needs a legal basis to process",
    "EXPLANATION_REQUIRED": "{n} {would_not_be} opted in: the legal basis needs an explanation",
    "NO_ADDRESS_ON_CHANNEL": "{n} {would_not_be} changed: the line has no address on that type's channel",
    "INVALID_ADDRESS": "{n} {lines} {are} not a valid address",
    "NO_ADDRESS": "{n} {lines} {have} no address",
    "UNKNOWN_STATUS": "{n} {lines} {have} a status that is not SUBSCRIBED, UNSUBSCRIBED or NOT_SPECIFIED",
    "UNKNOWN_VALUE": "{n} {lines} {have} a value that is not true or false",
    "RAGGED_LINE": "{n} {lines} {have} a different number of fields than the header",
    "LINE_TOO_LONG": "{n} {lines} {are} too long to read",
    "FIELD_TOO_LONG": "{n} {lines} {have} a field that is too long",
    "UNKNOWN_SUBSCRIPTION_TYPE": "{n} {columns} {name} no subscription type: ignored",
    "WRONG_CHANNEL": "{n} {columns} {name} a type of a channel the file has no address for: ignored",
    "UNKNOWN_BUSINESS_UNIT": "{n} {columns} {name} no business unit: ignored",
}


def import_counts(counts: dict[str, Any], kind: str, channel: str, unit: str, *, predicted: bool) -> list[str]:
    """An import's counts (predicted, or done) as sentences, the changes first."""
    word = CHANNEL_IN_TEXT.get(channel, channel.lower())
    out = []

    def n(value: int) -> str:
        return f"{value:,}"

    changed, unchanged = int(counts.get("CHANGED") or 0), int(counts.get("UNCHANGED") or 0)
    if kind == "OPT_OUTS":
        verb = "would be" if predicted else ("was" if changed == 1 else "were")
        out.append(f"{n(changed)} {verb} opted out of all {word} in {unit}")
        still = (
            "would stay as they are" if predicted else ("stayed as it was" if unchanged == 1 else "stayed as they were")
        )
        out.append(f"{n(unchanged)} {'is' if unchanged == 1 else 'are'} already opted out or repeated: {still}")
    else:
        verb = "would be made" if predicted else ("was made" if changed == 1 else "were made")
        out.append(f"{n(changed)} change{'' if changed == 1 else 's'} {verb} (contacts and their statuses)")
        out.append(f"{n(unchanged)} {'is' if unchanged == 1 else 'are'} already so: no change")
    for reason, count in dict(counts.get("by_reason") or {}).items():
        text = IMPORT_REASONS.get(reason)
        if text is None:
            out.append(f"{n(count)}: {reason.replace('_', ' ').lower()}")
            continue
        one = count == 1
        out.append(
            text.format(
                n=n(count),
                channel=word,
                would_not_be="would not be" if predicted else ("was not" if one else "were not"),
                would_be="would be" if predicted else ("was" if one else "were"),
                would_keep="would keep" if predicted else "kept",
                lines="line" if one else "lines",
                columns="column" if one else "columns",
                are="is" if one else "are",
                have="has" if one else "have",
                name="names" if one else "name",
            )
        )
    return out


# --- workflows --------------------------------------------------------------------------------

TRIGGER = {
    "CONTACT_CREATED": "Contact created",
    "PROPERTY_CHANGED": "Property changed to a value",
    "FORM_SUBMITTED": "Form submitted",
    "MANUAL": "Manual (enrolled from the contacts list or the API)",
}
ACTION = {
    "SET_SUBSCRIPTION_STATUS": "Set a subscription status",
    "SET_UNSUBSCRIBE_ALL": "Unsubscribe from all",
}


def on_day(value: dt.datetime, today: dt.date | None = None) -> str:
    """ "3 March" (this year) or "3 March 2024"."""
    day = value.astimezone(dt.UTC).date()
    text = f"{day.day} {day.strftime('%B')}"
    return text if day.year == (today or dt.datetime.now(dt.UTC).date()).year else f"{text} {day.year}"


def run_refusal(
    reason: str | None, channel: str, *, since: dt.datetime | None = None, set_by: str | None = None
) -> str:
    """Why a workflow action did nothing for one contact, for the run log."""
    word = CHANNEL_IN_TEXT.get(channel, channel.lower())
    when = f" on {on_day(since)}" if since else ""
    if reason == Reason.WORKFLOW_CANNOT_RESUBSCRIBE:
        return f"Not subscribed: the contact opted out{when}; a workflow cannot resubscribe."
    if reason == Reason.WIDE_OPT_OUT_IN_FORCE:
        who = {"CONTACT": " themself", "USER": " (by a user)", "IMPORT": " (by an import)"}.get(set_by or "", "")
        return f"Not subscribed: the contact unsubscribed from all {word}{who}{when}; a workflow cannot opt them in."
    if reason == "NO_ADDRESS_ON_CHANNEL":
        what = "email address" if channel == Channel.EMAIL.value else f"phone number for {word}"
        return f"Not done: the contact has no {what}."
    if reason == Reason.ERASED:
        return "Not done: the address was erased at the person's request."
    if reason in (Reason.LEGAL_BASIS_REQUIRED, Reason.PROCESSING_LEGAL_BASIS_REQUIRED, Reason.EXPLANATION_REQUIRED):
        return (
            "Not subscribed: "
            + refusal(reason, channel)[0].lower()
            + refusal(reason, channel)[1:]
            + (" Edit the workflow's action to add it.")
        )
    return refusal(reason, channel)
