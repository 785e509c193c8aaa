"""Every code the admin UI shows, in plain words — in ONE place, reused by every screen.

Reason codes come from the domain core (R9); the screens never show a bare code where a
sentence can say what happened and what the user can do about it.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    Source.MANUAL.value: "Manual (admin UI)",
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
        "(More → Remove opt-out of all email that a user added).",
    ),
    Reason.WIDE_OPT_OUT_IN_FORCE + "/" + ActorClass.IMPORT: Refusal(
        "An opt-out import unsubscribed this person from all {channel} here; remove that opt-out "
        "first, with a legal basis.",
        "{n} {contacts} {were} unsubscribed from all {channel} by an import; remove that first "
        "(More → Remove opt-out of all email that a user added).",
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


def status(code: str | None) -> str:
    return STATUS.get(code or "", code or "")


def legal_basis(code: str | None) -> str:
    return LEGAL_BASIS.get(code or "", code or "")


def source(code: str | None) -> str:
    return SOURCE.get(code or "", code or "")
