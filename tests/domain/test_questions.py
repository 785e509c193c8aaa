"""The questions interfaces ask the domain instead of answering them themselves (issue 7
point 2), and who may lift a wide opt-out (issue 8 point 1)."""

from __future__ import annotations

import itertools

import pytest

from assent.domain.model import (
    API_KEY_SOURCES,
    CHANGED,
    Actor,
    ActorClass,
    Channel,
    Evidence,
    LegalBasis,
    Outcome,
    Policy,
    Reason,
    Source,
    Status,
    WideOptOut,
)
from assent.domain.rules import (
    EVIDENCE_REASONS,
    EvidenceNeeded,
    evidence_for_status_change,
    evidence_to_lift_wide_opt_out,
    is_resubscribe,
    judge_status_change,
    judge_wide_opt_out_removal,
    lifts_erasure,
    may_change_status,
    may_lift_wide_opt_out,
    recorded_legal_basis,
    starts_double_opt_in,
)

BY_CONTACT = WideOptOut(0, ActorClass.CONTACT, Source.ONE_CLICK)
BY_USER = WideOptOut(0, ActorClass.USER, Source.MANUAL)
POLICIES = (Policy(), Policy(data_privacy_mode=True))


@pytest.mark.parametrize("source", [Source.PREFERENCE_CENTER, Source.SMS_KEYWORD, Source.WHATSAPP_KEYWORD])
def test_the_contacts_explicit_acts_lift_their_own_wide_opt_out(source: Source) -> None:
    verdict = judge_wide_opt_out_removal(current=BY_CONTACT, actor=Actor(source), evidence=Evidence(), policy=Policy())
    assert verdict == CHANGED


@pytest.mark.parametrize(
    "source", [Source.FORM, Source.DOUBLE_OPT_IN, Source.SPAM_COMPLAINT, Source.ESP_UNSUBSCRIBE, Source.ONE_CLICK]
)
@pytest.mark.parametrize("current", [BY_CONTACT, BY_USER])
def test_a_form_a_click_or_a_complaint_never_lifts_a_wide_opt_out(source: Source, current: WideOptOut) -> None:
    full = Evidence(LegalBasis.CONSENT_WITH_NOTICE, "they asked", LegalBasis.PROCESS_AND_STORE, "notice")
    verdict = judge_wide_opt_out_removal(current=current, actor=Actor(source), evidence=full, policy=Policy())
    assert (verdict.outcome, verdict.reason) == (Outcome.REFUSED, Reason.SOURCE_CANNOT_REMOVE_WIDE_OPT_OUT)
    assert may_lift_wide_opt_out(current, Actor(source)) == verdict


@pytest.mark.parametrize("source", sorted(API_KEY_SOURCES))
def test_nothing_an_api_key_claims_lifts_the_contacts_own_wide_opt_out(source: Source) -> None:
    full = Evidence(LegalBasis.CONSENT_WITH_NOTICE, "they asked", LegalBasis.PROCESS_AND_STORE, "notice")
    verdict = judge_wide_opt_out_removal(current=BY_CONTACT, actor=Actor(source), evidence=full, policy=Policy())
    assert verdict.outcome is Outcome.REFUSED


def test_may_lift_says_why_a_user_may_not() -> None:
    assert may_lift_wide_opt_out(BY_CONTACT, Actor(Source.MANUAL)).reason is Reason.WIDE_OPT_OUT_SET_BY_CONTACT
    assert may_lift_wide_opt_out(BY_USER, Actor(Source.MANUAL)) == CHANGED
    assert may_lift_wide_opt_out(BY_USER, Actor(Source.WORKFLOW)).reason is Reason.ACTOR_CANNOT_REMOVE_WIDE_OPT_OUT
    spam = WideOptOut(0, ActorClass.CONTACT, Source.SPAM_COMPLAINT)
    assert may_lift_wide_opt_out(spam, Actor(Source.API)).reason is Reason.WIDE_OPT_OUT_SET_BY_CONTACT


def test_is_resubscribe() -> None:
    assert is_resubscribe(Status.UNSUBSCRIBED)
    assert is_resubscribe(Status.UNSUBSCRIBED, Status.NOT_SPECIFIED)
    assert not is_resubscribe(Status.UNSUBSCRIBED, Status.UNSUBSCRIBED)
    assert not is_resubscribe(Status.NOT_SPECIFIED)


def _offering(needed: EvidenceNeeded) -> Evidence:
    """Exactly the evidence `needed` names, nothing more."""
    return Evidence(
        legal_basis=LegalBasis.LEGITIMATE_INTEREST_CLIENT if needed.legal_basis else None,
        legal_basis_explanation="they asked us" if needed.explanation else None,
        processing_legal_basis=LegalBasis.PROCESS_AND_STORE if needed.processing_legal_basis else None,
        notice_text="the notice" if needed.notice else None,
    )


@pytest.mark.parametrize("policy", POLICIES, ids=["off", "privacy"])
@pytest.mark.parametrize("has_basis", [False, True])
def test_evidence_needed_is_exactly_what_the_change_rules_ask(policy: Policy, has_basis: bool) -> None:
    """For every source × current × target: without evidence the rule refuses for want of
    evidence exactly when something is needed, and with just what is named it does not."""
    for source, current, target in itertools.product(Source, Status, Status):
        actor = Actor(source)
        needed = evidence_for_status_change(
            actor=actor, current=current, target=target, policy=policy, has_processing_basis=has_basis
        )

        def judge(evidence: Evidence, actor: Actor = actor, current: Status = current, target: Status = target):
            return judge_status_change(
                current=current,
                target=target,
                actor=actor,
                evidence=evidence,
                policy=policy,
                has_processing_basis=has_basis,
            )

        bare = judge(Evidence())
        case = f"{source} {current}→{target}"
        if bare.reason in EVIDENCE_REASONS:
            assert needed.any, case
        elif bare.outcome is not Outcome.REFUSED:
            assert not needed.any, case
        assert judge(_offering(needed)).reason not in EVIDENCE_REASONS, case


@pytest.mark.parametrize("policy", POLICIES, ids=["off", "privacy"])
@pytest.mark.parametrize("has_basis", [False, True])
def test_evidence_to_lift_is_exactly_what_the_wide_rule_asks(policy: Policy, has_basis: bool) -> None:
    needed = evidence_to_lift_wide_opt_out(policy, has_processing_basis=has_basis)
    user = Actor(Source.MANUAL)

    def judge(evidence: Evidence):
        return judge_wide_opt_out_removal(
            current=BY_USER, actor=user, evidence=evidence, policy=policy, has_processing_basis=has_basis
        )

    assert judge(Evidence()).reason in EVIDENCE_REASONS
    assert judge(_offering(needed)) == CHANGED
    for field in ("legal_basis", "explanation", "processing_legal_basis"):
        if getattr(needed, field):
            less = EvidenceNeeded(
                **{
                    **{
                        f: getattr(needed, f)
                        for f in ("legal_basis", "explanation", "processing_legal_basis", "notice")
                    },
                    field: False,
                }
            )
            assert judge(_offering(less)).reason in EVIDENCE_REASONS, field


def test_double_opt_in_starts_only_for_a_forms_email_opt_in_where_it_is_on() -> None:
    on = Policy(double_opt_in_by_business_unit={3: True})
    args = {"channel": Channel.EMAIL, "outcome": Outcome.CHANGED, "target": Status.SUBSCRIBED, "business_unit_id": 3}
    assert starts_double_opt_in(source=Source.FORM, policy=on, **args)
    assert not starts_double_opt_in(source=Source.FORM, policy=Policy(), **args)
    assert not starts_double_opt_in(source=Source.API, policy=on, **args)
    assert not starts_double_opt_in(source=Source.FORM, policy=on, **{**args, "outcome": Outcome.UNCHANGED})
    assert not starts_double_opt_in(source=Source.FORM, policy=on, **{**args, "channel": Channel.SMS})


def test_only_the_persons_own_opt_in_lifts_an_erasure_and_records_consent() -> None:
    assert lifts_erasure(Actor(Source.FORM), Status.SUBSCRIBED)
    assert not lifts_erasure(Actor(Source.API), Status.SUBSCRIBED)
    assert not lifts_erasure(Actor(Source.PREFERENCE_CENTER), Status.UNSUBSCRIBED)
    given = Evidence(legal_basis=LegalBasis.PERFORMANCE_OF_CONTRACT)
    assert recorded_legal_basis(Actor(Source.FORM), Status.SUBSCRIBED, given) is LegalBasis.CONSENT_WITH_NOTICE
    assert recorded_legal_basis(Actor(Source.API), Status.SUBSCRIBED, given) is LegalBasis.PERFORMANCE_OF_CONTRACT


@pytest.mark.parametrize("policy", POLICIES, ids=["off", "privacy"])
def test_may_change_status_is_the_change_rule_before_evidence(policy: Policy) -> None:
    """What a screen offers (issue 15): for every source × current × target × wide opt-out ×
    erasure, a refusal of `may_change_status` is the rule's refusal whatever the evidence, and
    where it allows the change the rule allows it given the evidence it names."""
    full = Evidence(LegalBasis.CONSENT_WITH_NOTICE, "they asked", LegalBasis.PROCESS_AND_STORE, "notice")
    for source, current, target, wide, erased in itertools.product(
        Source, Status, Status, (None, BY_CONTACT, BY_USER), (False, True)
    ):
        actor = Actor(source)
        may = may_change_status(current=current, target=target, actor=actor, wide_opt_out=wide, erased=erased)
        needed = evidence_for_status_change(actor=actor, current=current, target=target, policy=policy)
        case = f"{source} {current}→{target} wide={wide} erased={erased}"
        for evidence in (Evidence(), _offering(needed), full):
            verdict = judge_status_change(
                current=current,
                target=target,
                actor=actor,
                evidence=evidence,
                policy=policy,
                wide_opt_out=wide,
                erased=erased,
            )
            if not may.applies:
                assert verdict == may, case
        if may.applies:
            assert judge_status_change(
                current=current,
                target=target,
                actor=actor,
                evidence=_offering(needed),
                policy=policy,
                wide_opt_out=wide,
                erased=erased,
            ).applies, case


def test_a_user_is_offered_no_subscribe_under_a_wide_opt_out() -> None:
    user = Actor(Source.MANUAL)
    for wide in (BY_CONTACT, BY_USER):
        verdict = may_change_status(
            current=Status.NOT_SPECIFIED, target=Status.SUBSCRIBED, actor=user, wide_opt_out=wide
        )
        assert verdict.reason is Reason.WIDE_OPT_OUT_IN_FORCE
    assert (
        may_change_status(current=Status.SUBSCRIBED, target=Status.UNSUBSCRIBED, actor=user, wide_opt_out=BY_CONTACT)
        == CHANGED
    )
    assert may_change_status(current=Status.UNSUBSCRIBED, target=Status.SUBSCRIBED, actor=user) == CHANGED
