"""The change rules (SPEC R3–R10) and the send decision (R11).

Pure functions over plain values: no database, no clock, no HTTP. Every interface — the
native API, the HubSpot-compatible API, pages, bulk jobs, imports, workflows, webhooks —
asks these functions and does what they say. A rule written anywhere else is a bug.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

from assent.domain.model import (
    CHANGED,
    UNCHANGED,
    WIDE_OPT_OUT_LIFTING_SOURCES,
    Actor,
    ActorClass,
    Channel,
    ConfirmationState,
    Evidence,
    LegalBasis,
    Outcome,
    Policy,
    Reason,
    Source,
    Status,
    Verdict,
    WideOptOut,
    refused,
)

#: Refusals that mean "the request lacked evidence", not "the rules forbid it". A request
#: about one address turns them into a 422 for the whole request (R6); a bulk run reports
#: them per address (R9).
EVIDENCE_REASONS = frozenset(
    {
        Reason.EXPLANATION_REQUIRED,
        Reason.LEGAL_BASIS_REQUIRED,
        Reason.PROCESSING_LEGAL_BASIS_REQUIRED,
        Reason.NOTICE_REQUIRED,
    }
)

_RESUBSCRIBE_REFUSALS = {
    ActorClass.WORKFLOW: Reason.WORKFLOW_CANNOT_RESUBSCRIBE,
    ActorClass.IMPORT: Reason.IMPORT_CANNOT_RESUBSCRIBE,
    ActorClass.PROVIDER: Reason.ACTOR_CANNOT_RESUBSCRIBE,
    ActorClass.SYSTEM: Reason.ACTOR_CANNOT_RESUBSCRIBE,
}


def judge_status_change(
    *,
    current: Status,
    target: Status,
    actor: Actor,
    evidence: Evidence,
    policy: Policy,
    wide_opt_out: WideOptOut | None = None,
    erased: bool = False,
    has_processing_basis: bool = False,
) -> Verdict:
    """May `actor` move one (address, type) from `current` to `target`?"""
    allowed = may_change_status(current=current, target=target, actor=actor, wide_opt_out=wide_opt_out, erased=erased)
    if not allowed.applies or target is Status.UNSUBSCRIBED:
        return allowed
    klass = actor.klass
    is_contact = klass is ActorClass.CONTACT
    resubscribe = is_resubscribe(current, target)
    opting_in = target is Status.SUBSCRIBED or resubscribe
    if is_contact:
        # R6: a person's own opt-in is evidenced by the notice they saw.
        if target is Status.SUBSCRIBED and not (evidence.notice_text or "").strip():
            return refused(Reason.NOTICE_REQUIRED)
        return CHANGED
    if resubscribe and klass is ActorClass.USER and not evidence.has_explanation:
        return refused(Reason.EXPLANATION_REQUIRED)  # R5: always, for a user
    if opting_in and policy.data_privacy_mode:
        return _privacy_mode_evidence(evidence, has_processing_basis)  # R5, R6
    return CHANGED


def may_change_status(
    *, current: Status, target: Status, actor: Actor, wide_opt_out: WideOptOut | None = None, erased: bool = False
) -> Verdict:
    """R3, R4, R7, R10 and who may resubscribe, before any evidence: may `actor` make this
    change at all? CHANGED means yes (`evidence_for_status_change` names what it still
    needs), UNCHANGED that it is so already, and a refusal gives the reason a screen shows
    instead of the button. `judge_status_change` asks this first."""
    if target is current:
        return UNCHANGED  # R3
    if target is Status.UNSUBSCRIBED:
        return CHANGED  # R4: opting out is always allowed, at once
    klass = actor.klass
    is_contact = klass is ActorClass.CONTACT
    if erased and not is_contact:
        return refused(Reason.ERASED)  # R10
    resubscribe = is_resubscribe(current, target)
    if resubscribe and klass in _RESUBSCRIBE_REFUSALS:
        return refused(_RESUBSCRIBE_REFUSALS[klass])
    opting_in = target is Status.SUBSCRIBED or resubscribe
    if opting_in and wide_opt_out is not None and not is_contact:
        return refused(Reason.WIDE_OPT_OUT_IN_FORCE)  # R7
    return CHANGED


def _privacy_mode_evidence(evidence: Evidence, has_processing_basis: bool) -> Verdict:
    if evidence.legal_basis is None:
        return refused(Reason.LEGAL_BASIS_REQUIRED)
    if not evidence.has_explanation:
        return refused(Reason.EXPLANATION_REQUIRED)
    if evidence.processing_legal_basis is None and not has_processing_basis:
        return refused(Reason.PROCESSING_LEGAL_BASIS_REQUIRED)
    return CHANGED


def judge_wide_opt_out_set(current: WideOptOut | None, actor: Actor) -> Verdict:
    """R8: setting a wide opt-out is always allowed.

    When one is already in force it is unchanged — except that the contact's own act
    replaces one a user or an import set, because from then on only the contact may lift it.
    """
    if current is None:
        return CHANGED
    if actor.klass is ActorClass.CONTACT and current.set_by is not ActorClass.CONTACT:
        return CHANGED
    return UNCHANGED


def judge_wide_opt_out_removal(
    *,
    current: WideOptOut | None,
    actor: Actor,
    evidence: Evidence,
    policy: Policy,
    erased: bool = False,
    has_processing_basis: bool = False,
) -> Verdict:
    """R8: who may lift an "unsubscribed from all"."""
    if current is None:
        return UNCHANGED
    if actor.source in WIDE_OPT_OUT_LIFTING_SOURCES:
        return CHANGED  # the contact's own explicit act, erased or not
    if erased and actor.klass is not ActorClass.CONTACT:
        return refused(Reason.ERASED)  # R10
    allowed = may_lift_wide_opt_out(current, actor)
    if not allowed.applies:
        return allowed
    # Lifting a wide opt-out lets mail flow again: it is a resubscribe of the channel (R5).
    if not evidence.has_explanation:
        return refused(Reason.EXPLANATION_REQUIRED)
    if policy.data_privacy_mode:
        return _privacy_mode_evidence(evidence, has_processing_basis)
    return CHANGED


def may_lift_wide_opt_out(current: WideOptOut, actor: Actor) -> Verdict:
    """R8, before any evidence: may `actor` lift this wide opt-out at all? CHANGED means
    yes (a user still needs the evidence `evidence_to_lift_wide_opt_out` names); a refusal
    gives the reason a screen shows ("only they can undo it")."""
    if actor.source in WIDE_OPT_OUT_LIFTING_SOURCES:
        return CHANGED
    if actor.klass is ActorClass.CONTACT:
        return refused(Reason.SOURCE_CANNOT_REMOVE_WIDE_OPT_OUT)  # a form or a click never does
    if actor.klass is not ActorClass.USER:
        return refused(Reason.ACTOR_CANNOT_REMOVE_WIDE_OPT_OUT)
    if current.set_by is ActorClass.CONTACT:
        return refused(Reason.WIDE_OPT_OUT_SET_BY_CONTACT)
    if current.set_by not in (ActorClass.USER, ActorClass.IMPORT):
        return refused(Reason.ACTOR_CANNOT_REMOVE_WIDE_OPT_OUT)
    return CHANGED


# --- questions the interfaces ask (what to show, what to ask for, what follows) ---------


def is_resubscribe(current: Status, target: Status = Status.SUBSCRIBED) -> bool:
    """R5: leaving UNSUBSCRIBED is a resubscribe, whether the target is SUBSCRIBED or
    NOT_SPECIFIED (with data privacy off, NOT_SPECIFIED is sendable)."""
    return current is Status.UNSUBSCRIBED and target is not Status.UNSUBSCRIBED


@dataclass(frozen=True, slots=True)
class EvidenceNeeded:
    """What an actor must offer for a change (R5, R6): the fields a form marks required."""

    legal_basis: bool = False
    explanation: bool = False
    processing_legal_basis: bool = False
    notice: bool = False

    @property
    def any(self) -> bool:
        return self.legal_basis or self.explanation or self.processing_legal_basis or self.notice


NOTHING_NEEDED = EvidenceNeeded()


def evidence_for_status_change(
    *, actor: Actor, current: Status, target: Status, policy: Policy, has_processing_basis: bool = False
) -> EvidenceNeeded:
    """The evidence `judge_status_change` asks of `actor` for this change under `policy`
    (a property test keeps the two in agreement)."""
    if target is current or target is Status.UNSUBSCRIBED:
        return NOTHING_NEEDED
    klass = actor.klass
    if klass is ActorClass.CONTACT:
        return EvidenceNeeded(notice=target is Status.SUBSCRIBED)
    resubscribe = is_resubscribe(current, target)
    opting_in = target is Status.SUBSCRIBED or resubscribe
    privacy = opting_in and policy.data_privacy_mode
    return EvidenceNeeded(
        legal_basis=privacy,
        explanation=privacy or (resubscribe and klass is ActorClass.USER),
        processing_legal_basis=privacy and not has_processing_basis,
    )


def evidence_to_lift_wide_opt_out(policy: Policy, *, has_processing_basis: bool = False) -> EvidenceNeeded:
    """What a user must offer to lift a wide opt-out a user or an import set (R8, R5)."""
    privacy = policy.data_privacy_mode
    return EvidenceNeeded(
        legal_basis=privacy, explanation=True, processing_legal_basis=privacy and not has_processing_basis
    )


def starts_double_opt_in(
    *, source: Source, channel: Channel, outcome: Outcome, target: Status, business_unit_id: int, policy: Policy
) -> bool:
    """R16: a form's opt-in to an email type of a unit with double opt-in on leaves the
    address waiting for the person to confirm it."""
    return (
        source is Source.FORM
        and channel is Channel.EMAIL
        and target is Status.SUBSCRIBED
        and outcome is Outcome.CHANGED
        and policy.double_opt_in_for(business_unit_id)
    )


def lifts_erasure(actor: Actor, target: Status) -> bool:
    """R22: an erased address stays suppressed until the person opts in themself; an opt-in
    the rules let through for an erased address (only the contact's) lifts the erasure."""
    return target is Status.SUBSCRIBED and actor.klass is ActorClass.CONTACT


def shows_ticked(status: Status, type_: TypeFacts, policy: Policy) -> bool:
    """R13: the person's own choice for this type lets mail flow — SUBSCRIBED, or
    NOT_SPECIFIED where no consent is needed (email outside data privacy mode). The rule is
    the decision's (R11); a bounce is shown apart, and a wide opt-out by `preference_box`."""
    return not {Reason.UNSUBSCRIBED, Reason.NO_CONSENT} & set(decide(type_, SendFacts(status), policy))


@dataclass(frozen=True, slots=True)
class PreferenceBox:
    """How the preference page shows one type (R13, R7, R11)."""

    #: the box is ticked: mail of this type is sent now, as far as the person's choices go
    ticked: bool
    #: the type's own status lets mail flow (`shows_ticked`): what would be sent if the wide
    #: opt-out were gone; a Save that lifts it compares the boxes with this
    chosen: bool
    #: nothing of this type is sent while the wide opt-out stands (R11 UNSUBSCRIBED_FROM_ALL)
    held_by_wide_opt_out: bool


def preference_box(status: Status, type_: TypeFacts, policy: Policy, *, wide_opt_out: bool) -> PreferenceBox:
    """R13 with a wide opt-out in force: no box is ticked, since nothing is sent (R11), and the
    type's status is kept underneath (R7) until the person lifts the opt-out themself (R8)."""
    chosen = shows_ticked(status, type_, policy)
    held = Reason.UNSUBSCRIBED_FROM_ALL in decide(type_, SendFacts(status, wide_opt_out=wide_opt_out), policy)
    return PreferenceBox(ticked=chosen and not held, chosen=chosen, held_by_wide_opt_out=held)


def recorded_legal_basis(actor: Actor, target: Status, evidence: Evidence) -> LegalBasis | None:
    """R6: the legal basis a status records — a person's own opt-in is consent with notice."""
    if target is Status.SUBSCRIBED and actor.klass is ActorClass.CONTACT:
        return LegalBasis.CONSENT_WITH_NOTICE
    return evidence.legal_basis


# --- deciding whether a message may be sent (R11) -------------------------------------


@dataclass(frozen=True, slots=True)
class TypeFacts:
    channel: Channel
    business_unit_id: int
    is_active: bool


@dataclass(frozen=True, slots=True)
class SendFacts:
    """What storage knows about one address for one type."""

    status: Status = Status.NOT_SPECIFIED
    wide_opt_out: bool = False
    undeliverable: bool = False
    confirmation: ConfirmationState | None = None
    erased: bool = False


_CONSENT_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})


def decide(type_: TypeFacts, facts: SendFacts, policy: Policy) -> tuple[Reason, ...]:
    """Every reason that blocks sending a message of `type_` to the address; empty = send."""
    reasons: list[Reason] = []
    if not type_.is_active:
        reasons.append(Reason.TYPE_INACTIVE)
    if facts.undeliverable:
        reasons.append(Reason.UNDELIVERABLE)
    if facts.wide_opt_out:
        reasons.append(Reason.UNSUBSCRIBED_FROM_ALL)
    if facts.status is Status.UNSUBSCRIBED:
        reasons.append(Reason.UNSUBSCRIBED)
    elif facts.status is Status.NOT_SPECIFIED and (type_.channel in _CONSENT_CHANNELS or policy.sending_needs_consent):
        reasons.append(Reason.NO_CONSENT)
    # Addresses that were never asked to confirm (they predate double opt-in, or came in by
    # hand) count as confirmed, as HubSpot treats them; only a pending confirmation blocks.
    if (
        type_.channel is Channel.EMAIL
        and facts.confirmation is ConfirmationState.PENDING
        and policy.double_opt_in_for(type_.business_unit_id)
    ):
        reasons.append(Reason.UNCONFIRMED)
    if facts.erased:
        reasons.append(Reason.ERASED)
    return tuple(reasons)


FactsKey = tuple[Status, bool, bool, ConfirmationState | None, bool]


@lru_cache(maxsize=256)
def decision_table(type_: TypeFacts, policy_key: tuple[object, ...]) -> dict[FactsKey, tuple[Reason, ...]]:
    """`decide` evaluated once for every combination of facts (3·2·2·3·2 = 72).

    Set-based paths (batch decisions, audience filters over millions of addresses) look
    answers up here instead of calling `decide` per row: the same rule, computed once.
    """
    policy = policy_from_key(policy_key)
    table: dict[FactsKey, tuple[Reason, ...]] = {}
    for status, wide, undeliverable, confirmation, erased in itertools.product(
        Status, (False, True), (False, True), (None, *ConfirmationState), (False, True)
    ):
        facts = SendFacts(status, wide, undeliverable, confirmation, erased)
        table[(status, wide, undeliverable, confirmation, erased)] = decide(type_, facts, policy)
    return table


def policy_key(policy: Policy) -> tuple[object, ...]:
    """A hashable form of a policy, for `decision_table`'s cache."""
    return (
        policy.data_privacy_mode,
        policy.consent_required_to_send,
        policy.double_opt_in,
        tuple(sorted(policy.double_opt_in_by_business_unit.items())),
    )


def policy_from_key(key: tuple[object, ...]) -> Policy:
    dpm, consent, doi, by_bu = key
    assert isinstance(by_bu, tuple)
    return Policy(
        data_privacy_mode=bool(dpm),
        consent_required_to_send=bool(consent),
        double_opt_in=bool(doi),
        double_opt_in_by_business_unit=dict(by_bu),
    )
