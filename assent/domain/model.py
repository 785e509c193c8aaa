"""The words of SPEC §1 as plain Python values. No I/O here, ever."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    WHATSAPP = "WHATSAPP"


class Status(StrEnum):
    SUBSCRIBED = "SUBSCRIBED"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    NOT_SPECIFIED = "NOT_SPECIFIED"


class LegalBasis(StrEnum):
    LEGITIMATE_INTEREST_PQL = "LEGITIMATE_INTEREST_PQL"
    LEGITIMATE_INTEREST_CLIENT = "LEGITIMATE_INTEREST_CLIENT"
    LEGITIMATE_INTEREST_OTHER = "LEGITIMATE_INTEREST_OTHER"
    PERFORMANCE_OF_CONTRACT = "PERFORMANCE_OF_CONTRACT"
    CONSENT_WITH_NOTICE = "CONSENT_WITH_NOTICE"
    NON_GDPR = "NON_GDPR"
    PROCESS_AND_STORE = "PROCESS_AND_STORE"


class ActorClass(StrEnum):
    CONTACT = "CONTACT"
    USER = "USER"
    WORKFLOW = "WORKFLOW"
    IMPORT = "IMPORT"
    PROVIDER = "PROVIDER"
    SYSTEM = "SYSTEM"


class Source(StrEnum):
    PREFERENCE_CENTER = "PREFERENCE_CENTER"
    ONE_CLICK = "ONE_CLICK"
    SMS_KEYWORD = "SMS_KEYWORD"
    WHATSAPP_KEYWORD = "WHATSAPP_KEYWORD"
    FORM = "FORM"
    DOUBLE_OPT_IN = "DOUBLE_OPT_IN"
    MANUAL = "MANUAL"
    BULK = "BULK"
    IMPORT = "IMPORT"
    WORKFLOW = "WORKFLOW"
    API = "API"
    HUBSPOT_API = "HUBSPOT_API"
    BOUNCE = "BOUNCE"
    SPAM_COMPLAINT = "SPAM_COMPLAINT"
    ESP_UNSUBSCRIBE = "ESP_UNSUBSCRIBE"
    ERASURE = "ERASURE"
    SYSTEM = "SYSTEM"

    @property
    def actor_class(self) -> ActorClass:
        return _ACTOR_OF_SOURCE[self]


_ACTOR_OF_SOURCE: dict[Source, ActorClass] = {
    Source.PREFERENCE_CENTER: ActorClass.CONTACT,
    Source.ONE_CLICK: ActorClass.CONTACT,
    Source.SMS_KEYWORD: ActorClass.CONTACT,
    Source.WHATSAPP_KEYWORD: ActorClass.CONTACT,
    Source.FORM: ActorClass.CONTACT,
    Source.DOUBLE_OPT_IN: ActorClass.CONTACT,
    Source.SPAM_COMPLAINT: ActorClass.CONTACT,
    Source.ESP_UNSUBSCRIBE: ActorClass.CONTACT,
    Source.MANUAL: ActorClass.USER,
    Source.BULK: ActorClass.USER,
    Source.API: ActorClass.USER,
    Source.HUBSPOT_API: ActorClass.USER,
    Source.WORKFLOW: ActorClass.WORKFLOW,
    Source.IMPORT: ActorClass.IMPORT,
    Source.BOUNCE: ActorClass.PROVIDER,
    Source.ERASURE: ActorClass.SYSTEM,
    Source.SYSTEM: ActorClass.SYSTEM,
}

#: The sources something in Assent records (a filter offers only these). SYSTEM is reserved
#: — the schema's CHECK constraints allow it — but no action writes it.
RECORDED_SOURCES: tuple[Source, ...] = tuple(s for s in Source if s is not Source.SYSTEM)

#: Sources an API key may claim, in the order the API documents them. The contact-only ones
#: (preference center, one-click, keywords, double opt-in, complaints) are only ever set by
#: our own pages and webhooks, because claiming them would let a caller borrow the contact's
#: powers (R5, R8). FORM is a contact act, but one that never lifts a wide opt-out (R8).
API_KEY_SOURCE_ORDER = (Source.API, Source.MANUAL, Source.FORM, Source.WORKFLOW, Source.IMPORT)
API_KEY_SOURCES = frozenset(API_KEY_SOURCE_ORDER)

#: What a bulk update's caller may name as its source, and the source the changes then carry:
#: a bulk update is a user's act (BULK) unless a workflow or an import runs it, whose stricter
#: rules then apply (R20).
BULK_SOURCES = {
    "API": Source.BULK,
    "MANUAL": Source.BULK,
    "BULK": Source.BULK,
    "WORKFLOW": Source.WORKFLOW,
    "IMPORT": Source.IMPORT,
}

#: R8: the contact's own explicit acts that lift an "unsubscribe from all": Save in the
#: preference center (where a resubscribe email's link leads, with a second confirmation),
#: and START by SMS or WhatsApp. A form, a double opt-in click, a one-click link, a complaint
#: or an unsubscribe at the provider is the contact's act too, but never lifts one.
WIDE_OPT_OUT_LIFTING_SOURCES = frozenset({Source.PREFERENCE_CENTER, Source.SMS_KEYWORD, Source.WHATSAPP_KEYWORD})


class Outcome(StrEnum):
    CHANGED = "CHANGED"
    UNCHANGED = "UNCHANGED"
    REFUSED = "REFUSED"


class Reason(StrEnum):
    """Every reason code Assent gives. Stable: clients switch on them."""

    # refusals of a change (R5–R10)
    WORKFLOW_CANNOT_RESUBSCRIBE = "WORKFLOW_CANNOT_RESUBSCRIBE"
    IMPORT_CANNOT_RESUBSCRIBE = "IMPORT_CANNOT_RESUBSCRIBE"
    ACTOR_CANNOT_RESUBSCRIBE = "ACTOR_CANNOT_RESUBSCRIBE"
    EXPLANATION_REQUIRED = "EXPLANATION_REQUIRED"
    LEGAL_BASIS_REQUIRED = "LEGAL_BASIS_REQUIRED"
    PROCESSING_LEGAL_BASIS_REQUIRED = "PROCESSING_LEGAL_BASIS_REQUIRED"
    NOTICE_REQUIRED = "NOTICE_REQUIRED"
    WIDE_OPT_OUT_IN_FORCE = "WIDE_OPT_OUT_IN_FORCE"
    WIDE_OPT_OUT_SET_BY_CONTACT = "WIDE_OPT_OUT_SET_BY_CONTACT"
    ACTOR_CANNOT_REMOVE_WIDE_OPT_OUT = "ACTOR_CANNOT_REMOVE_WIDE_OPT_OUT"
    #: the contact's act, but not one that lifts a wide opt-out (a form, a click; R8)
    SOURCE_CANNOT_REMOVE_WIDE_OPT_OUT = "SOURCE_CANNOT_REMOVE_WIDE_OPT_OUT"
    ERASED = "ERASED"
    # decisions (R11)
    TYPE_INACTIVE = "TYPE_INACTIVE"
    UNDELIVERABLE = "UNDELIVERABLE"
    UNSUBSCRIBED_FROM_ALL = "UNSUBSCRIBED_FROM_ALL"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    NO_CONSENT = "NO_CONSENT"
    UNCONFIRMED = "UNCONFIRMED"
    #: outside the unit's sending window in the recipient's local time (R28); not a
    #: refusal of the address, only of the moment: the decision carries `defer_until`
    QUIET_HOURS = "QUIET_HOURS"
    INVALID_ADDRESS = "INVALID_ADDRESS"


class EventKind(StrEnum):
    """What a ledger event records. Stable: webhooks and the hash chain serialize these."""

    STATUS = "STATUS"  # one (address, type) status
    WIDE_OPT_OUT = "WIDE_OPT_OUT"  # "unsubscribe from all" of a business unit
    UNDELIVERABLE = "UNDELIVERABLE"  # a hard bounce, or a user clearing one
    CONFIRMATION = "CONFIRMATION"  # double opt-in
    ERASURE = "ERASURE"  # the person was erased (R22)
    SOFT_BOUNCE = "SOFT_BOUNCE"  # a transient bounce, counted, never suppressing (R19)
    ESP_RESUBSCRIBE = "ESP_RESUBSCRIBE"  # a provider-reported resubscribe: evidence only (R5)


class EventState(StrEnum):
    """The `old_status` / `new_status` of events that are not about a subscription status
    (those use `Status`, and confirmations `ConfirmationState`)."""

    DELIVERABLE = "DELIVERABLE"
    UNDELIVERABLE = "UNDELIVERABLE"
    ERASED = "ERASED"
    SOFT_BOUNCE = "SOFT_BOUNCE"
    NOT_APPLIED = "NOT_APPLIED"


class JobStatus(StrEnum):
    """A durable job's life: QUEUED → RUNNING → SUCCEEDED | FAILED."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class ConfirmationState(StrEnum):
    """Double opt-in state of an address (R16). None in storage means never asked."""

    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"


@dataclass(frozen=True, slots=True)
class Policy:
    """The account settings the rules read."""

    data_privacy_mode: bool = False
    #: HubSpot's "send only to contacts with a legal basis": with data privacy mode on,
    #: only SUBSCRIBED is sendable (R11 NO_CONSENT).
    consent_required_to_send: bool = True
    double_opt_in: bool = False
    #: per business unit override of double opt-in; absent means the account setting
    double_opt_in_by_business_unit: dict[int, bool] = field(default_factory=dict)

    def double_opt_in_for(self, business_unit_id: int) -> bool:
        return self.double_opt_in_by_business_unit.get(business_unit_id, self.double_opt_in)

    @property
    def sending_needs_consent(self) -> bool:
        return self.data_privacy_mode and self.consent_required_to_send


@dataclass(frozen=True, slots=True)
class Actor:
    source: Source
    #: who exactly: an api key id, a user id, a workflow id, an import id
    id: str | None = None
    #: derived from the source (SPEC §1); kept as a field because the rules ask for it
    #: for every change of a bulk run
    klass: ActorClass = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "klass", self.source.actor_class)


@dataclass(frozen=True, slots=True)
class WideOptOut:
    business_unit_id: int
    set_by: ActorClass
    source: Source


@dataclass(frozen=True, slots=True)
class Evidence:
    """What an actor offers in support of a change (R6)."""

    legal_basis: LegalBasis | None = None
    legal_basis_explanation: str | None = None
    processing_legal_basis: LegalBasis | None = None
    notice_text: str | None = None
    notice_version: str | None = None

    @property
    def has_explanation(self) -> bool:
        return bool(self.legal_basis_explanation and self.legal_basis_explanation.strip())


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    reason: Reason | None = None

    @property
    def applies(self) -> bool:
        return self.outcome is Outcome.CHANGED


CHANGED = Verdict(Outcome.CHANGED)
UNCHANGED = Verdict(Outcome.UNCHANGED)


def refused(reason: Reason) -> Verdict:
    return Verdict(Outcome.REFUSED, reason)
