"""The change rules (R3–R10) and the decision (R11), table-driven, no database."""

from __future__ import annotations

import pytest

from assent.domain.model import (
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
    WideOptOut,
)
from assent.domain.rules import (
    SendFacts,
    TypeFacts,
    decide,
    decision_table,
    is_resubscribe,
    judge_status_change,
    judge_wide_opt_out_removal,
    judge_wide_opt_out_set,
    policy_key,
)

S, U, N = Status.SUBSCRIBED, Status.UNSUBSCRIBED, Status.NOT_SPECIFIED
OFF, ON = Policy(data_privacy_mode=False), Policy(data_privacy_mode=True)
CONTACT = Actor(Source.PREFERENCE_CENTER)
FORM = Actor(Source.FORM)
USER = Actor(Source.API, "api_key:1")
MANUAL = Actor(Source.MANUAL, "user:1")
WORKFLOW = Actor(Source.WORKFLOW, "workflow:1")
IMPORT = Actor(Source.IMPORT, "import:1")
BOUNCE = Actor(Source.BOUNCE)
SYSTEM = Actor(Source.SYSTEM)

NONE = Evidence()
EXPLAINED = Evidence(legal_basis_explanation="Asked us on the phone")
FULL = Evidence(
    legal_basis=LegalBasis.LEGITIMATE_INTEREST_CLIENT,
    legal_basis_explanation="Existing customer",
    processing_legal_basis=LegalBasis.PERFORMANCE_OF_CONTRACT,
)
NO_PROCESSING = Evidence(legal_basis=LegalBasis.CONSENT_WITH_NOTICE, legal_basis_explanation="Signed up at the fair")
NOTICE = Evidence(notice_text="I agree to receive the newsletter.", notice_version="v1")
BY_CONTACT = WideOptOut(0, ActorClass.CONTACT, Source.PREFERENCE_CENTER)
BY_USER = WideOptOut(0, ActorClass.USER, Source.MANUAL)
BY_IMPORT = WideOptOut(0, ActorClass.IMPORT, Source.IMPORT)
BY_WORKFLOW = WideOptOut(0, ActorClass.WORKFLOW, Source.WORKFLOW)

CHANGED, UNCHANGED = Outcome.CHANGED, Outcome.UNCHANGED

# (current, target, actor, evidence, policy, wide, erased, expected outcome, expected reason)
STATUS_CASES = [
    # R3: the same status again is UNCHANGED, for everyone, whatever else holds
    pytest.param(S, S, USER, NONE, OFF, None, False, UNCHANGED, None, id="R3-same-status-unchanged"),
    pytest.param(U, U, WORKFLOW, NONE, ON, BY_CONTACT, True, UNCHANGED, None, id="R3-unchanged-even-when-erased"),
    # R4: opting out is always allowed
    *[
        pytest.param(
            cur,
            U,
            actor,
            NONE,
            pol,
            BY_CONTACT,
            erased,
            CHANGED,
            None,
            id=f"R4-{cur}-{actor.source}-{pol.data_privacy_mode}-{erased}",
        )
        for cur in (S, N)
        for actor in (CONTACT, USER, WORKFLOW, IMPORT, BOUNCE, SYSTEM)
        for pol in (OFF, ON)
        for erased in (False, True)
    ],
    # R5: leaving UNSUBSCRIBED is a resubscribe, whether to SUBSCRIBED or NOT_SPECIFIED
    pytest.param(
        U,
        N,
        WORKFLOW,
        FULL,
        OFF,
        None,
        False,
        Outcome.REFUSED,
        Reason.WORKFLOW_CANNOT_RESUBSCRIBE,
        id="R5-workflow-to-not-specified",
    ),
    pytest.param(
        U,
        S,
        WORKFLOW,
        FULL,
        OFF,
        None,
        False,
        Outcome.REFUSED,
        Reason.WORKFLOW_CANNOT_RESUBSCRIBE,
        id="R5-workflow-to-subscribed",
    ),
    pytest.param(
        U,
        S,
        IMPORT,
        FULL,
        OFF,
        None,
        False,
        Outcome.REFUSED,
        Reason.IMPORT_CANNOT_RESUBSCRIBE,
        id="R5-import-never-resubscribes",
    ),
    pytest.param(
        U,
        N,
        IMPORT,
        FULL,
        ON,
        None,
        False,
        Outcome.REFUSED,
        Reason.IMPORT_CANNOT_RESUBSCRIBE,
        id="R5-import-to-not-specified",
    ),
    pytest.param(
        U, S, BOUNCE, FULL, OFF, None, False, Outcome.REFUSED, Reason.ACTOR_CANNOT_RESUBSCRIBE, id="R5-provider-cannot"
    ),
    pytest.param(
        U, S, SYSTEM, FULL, OFF, None, False, Outcome.REFUSED, Reason.ACTOR_CANNOT_RESUBSCRIBE, id="R5-system-cannot"
    ),
    pytest.param(
        U,
        N,
        USER,
        NONE,
        OFF,
        None,
        False,
        Outcome.REFUSED,
        Reason.EXPLANATION_REQUIRED,
        id="R5-user-needs-explanation-to-not-specified",
    ),
    pytest.param(
        U, S, USER, NONE, OFF, None, False, Outcome.REFUSED, Reason.EXPLANATION_REQUIRED, id="R5-user-needs-explanation"
    ),
    pytest.param(U, S, MANUAL, EXPLAINED, OFF, None, False, CHANGED, None, id="R5-user-with-explanation"),
    pytest.param(
        U,
        N,
        USER,
        EXPLAINED,
        ON,
        None,
        False,
        Outcome.REFUSED,
        Reason.LEGAL_BASIS_REQUIRED,
        id="R5-user-needs-legal-basis-in-dpm",
    ),
    pytest.param(U, S, USER, FULL, ON, None, False, CHANGED, None, id="R5-user-with-full-evidence-in-dpm"),
    pytest.param(U, S, CONTACT, NOTICE, ON, None, False, CHANGED, None, id="R5-contact-resubscribes-themself"),
    pytest.param(U, N, CONTACT, NONE, OFF, None, False, CHANGED, None, id="R5-contact-to-not-specified"),
    # R6: data privacy mode needs legal basis + explanation + processing basis for non-contacts
    pytest.param(
        N, S, USER, NONE, ON, None, False, Outcome.REFUSED, Reason.LEGAL_BASIS_REQUIRED, id="R6-no-legal-basis"
    ),
    pytest.param(
        N,
        S,
        USER,
        Evidence(legal_basis=LegalBasis.NON_GDPR),
        ON,
        None,
        False,
        Outcome.REFUSED,
        Reason.EXPLANATION_REQUIRED,
        id="R6-no-explanation",
    ),
    pytest.param(
        N,
        S,
        USER,
        NO_PROCESSING,
        ON,
        None,
        False,
        Outcome.REFUSED,
        Reason.PROCESSING_LEGAL_BASIS_REQUIRED,
        id="R6-no-processing-basis",
    ),
    pytest.param(
        N,
        S,
        WORKFLOW,
        NONE,
        ON,
        None,
        False,
        Outcome.REFUSED,
        Reason.LEGAL_BASIS_REQUIRED,
        id="R6-applies-to-workflows",
    ),
    pytest.param(N, S, WORKFLOW, FULL, ON, None, False, CHANGED, None, id="R6-workflow-with-evidence"),
    pytest.param(N, S, IMPORT, FULL, ON, None, False, CHANGED, None, id="R6-import-subscribes-new"),
    pytest.param(N, S, USER, NONE, OFF, None, False, CHANGED, None, id="R6-not-in-dpm-no-evidence-needed"),
    pytest.param(S, N, USER, NONE, ON, None, False, CHANGED, None, id="R6-leaving-subscribed-needs-nothing"),
    pytest.param(
        N, S, FORM, NONE, ON, None, False, Outcome.REFUSED, Reason.NOTICE_REQUIRED, id="R6-contact-opt-in-needs-notice"
    ),
    pytest.param(N, S, FORM, NOTICE, ON, None, False, CHANGED, None, id="R6-contact-opt-in-with-notice"),
    # R7: a wide opt-out stops every non-contact subscribe or resubscribe
    *[
        pytest.param(
            cur,
            tgt,
            actor,
            FULL,
            OFF,
            wide,
            False,
            Outcome.REFUSED,
            Reason.WIDE_OPT_OUT_IN_FORCE,
            id=f"R7-{cur}-{tgt}-{actor.source}-{wide.set_by}",
        )
        for cur, tgt in ((N, S), (U, S))
        for actor in (USER, MANUAL)
        for wide in (BY_CONTACT, BY_USER, BY_IMPORT)
    ],
    pytest.param(
        N,
        S,
        WORKFLOW,
        FULL,
        OFF,
        BY_USER,
        False,
        Outcome.REFUSED,
        Reason.WIDE_OPT_OUT_IN_FORCE,
        id="R7-workflow-subscribe",
    ),
    pytest.param(S, N, USER, NONE, OFF, BY_CONTACT, False, CHANGED, None, id="R7-to-not-specified-is-not-an-opt-in"),
    pytest.param(N, S, CONTACT, NOTICE, OFF, BY_CONTACT, False, CHANGED, None, id="R7-contact-may-act"),
    # R10: an erased address refuses every non-contact change but opt-outs
    pytest.param(N, S, USER, FULL, OFF, None, True, Outcome.REFUSED, Reason.ERASED, id="R10-user-opt-in"),
    pytest.param(S, N, IMPORT, FULL, OFF, None, True, Outcome.REFUSED, Reason.ERASED, id="R10-import-any-change"),
    pytest.param(N, S, FORM, NOTICE, OFF, None, True, CHANGED, None, id="R10-person-may-opt-in-themself"),
]


@pytest.mark.parametrize(
    ("current", "target", "actor", "evidence", "policy", "wide", "erased", "outcome", "reason"), STATUS_CASES
)
def test_status_change_rules(
    current: Status,
    target: Status,
    actor: Actor,
    evidence: Evidence,
    policy: Policy,
    wide: WideOptOut | None,
    erased: bool,
    outcome: Outcome,
    reason: Reason | None,
) -> None:
    verdict = judge_status_change(
        current=current, target=target, actor=actor, evidence=evidence, policy=policy, wide_opt_out=wide, erased=erased
    )
    assert (verdict.outcome, verdict.reason) == (outcome, reason)


def test_it_accepts_a_processing_basis_stored_with_the_address() -> None:
    verdict = judge_status_change(
        current=N, target=S, actor=USER, evidence=NO_PROCESSING, policy=ON, has_processing_basis=True
    )
    assert verdict.outcome is CHANGED


@pytest.mark.parametrize(
    ("current", "actor", "outcome"),
    [
        pytest.param(None, USER, CHANGED, id="new"),
        pytest.param(BY_USER, USER, UNCHANGED, id="already-by-user"),
        pytest.param(BY_CONTACT, USER, UNCHANGED, id="user-over-contact-keeps-contact"),
        pytest.param(BY_USER, CONTACT, CHANGED, id="contact-takes-over-user-opt-out"),
        pytest.param(BY_IMPORT, Actor(Source.SPAM_COMPLAINT), CHANGED, id="complaint-takes-over-import"),
        pytest.param(BY_CONTACT, CONTACT, UNCHANGED, id="contact-again"),
        pytest.param(None, WORKFLOW, CHANGED, id="workflow-may-set"),
        pytest.param(None, IMPORT, CHANGED, id="import-may-set"),
    ],
)
def test_setting_a_wide_opt_out_is_always_allowed(current: WideOptOut | None, actor: Actor, outcome: Outcome) -> None:
    assert judge_wide_opt_out_set(current, actor).outcome is outcome


@pytest.mark.parametrize(
    ("current", "actor", "evidence", "policy", "erased", "outcome", "reason"),
    [
        pytest.param(None, USER, NONE, OFF, False, UNCHANGED, None, id="nothing-to-remove"),
        pytest.param(BY_CONTACT, CONTACT, NONE, ON, False, CHANGED, None, id="contact-always"),
        pytest.param(BY_CONTACT, CONTACT, NONE, OFF, True, CHANGED, None, id="contact-even-erased"),
        pytest.param(
            BY_CONTACT,
            USER,
            FULL,
            OFF,
            False,
            Outcome.REFUSED,
            Reason.WIDE_OPT_OUT_SET_BY_CONTACT,
            id="user-cannot-lift-contacts",
        ),
        pytest.param(BY_USER, USER, EXPLAINED, OFF, False, CHANGED, None, id="user-lifts-users"),
        pytest.param(BY_IMPORT, MANUAL, EXPLAINED, OFF, False, CHANGED, None, id="user-lifts-imports"),
        pytest.param(
            BY_USER, USER, NONE, OFF, False, Outcome.REFUSED, Reason.EXPLANATION_REQUIRED, id="user-must-explain"
        ),
        pytest.param(
            BY_USER, USER, EXPLAINED, ON, False, Outcome.REFUSED, Reason.LEGAL_BASIS_REQUIRED, id="user-dpm-legal-basis"
        ),
        pytest.param(BY_USER, USER, FULL, ON, False, CHANGED, None, id="user-dpm-full"),
        pytest.param(
            BY_WORKFLOW,
            USER,
            FULL,
            OFF,
            False,
            Outcome.REFUSED,
            Reason.ACTOR_CANNOT_REMOVE_WIDE_OPT_OUT,
            id="user-not-workflows",
        ),
        pytest.param(
            BY_USER,
            WORKFLOW,
            FULL,
            OFF,
            False,
            Outcome.REFUSED,
            Reason.ACTOR_CANNOT_REMOVE_WIDE_OPT_OUT,
            id="workflow-never",
        ),
        pytest.param(
            BY_USER,
            IMPORT,
            FULL,
            OFF,
            False,
            Outcome.REFUSED,
            Reason.ACTOR_CANNOT_REMOVE_WIDE_OPT_OUT,
            id="import-never",
        ),
        pytest.param(BY_USER, USER, FULL, OFF, True, Outcome.REFUSED, Reason.ERASED, id="erased"),
    ],
)
def test_removing_a_wide_opt_out(
    current: WideOptOut | None,
    actor: Actor,
    evidence: Evidence,
    policy: Policy,
    erased: bool,
    outcome: Outcome,
    reason: Reason | None,
) -> None:
    verdict = judge_wide_opt_out_removal(current=current, actor=actor, evidence=evidence, policy=policy, erased=erased)
    assert (verdict.outcome, verdict.reason) == (outcome, reason)


EMAIL = TypeFacts(Channel.EMAIL, 0, True)
SMS = TypeFacts(Channel.SMS, 0, True)
WHATSAPP = TypeFacts(Channel.WHATSAPP, 0, True)
DOI = Policy(double_opt_in=True)


@pytest.mark.parametrize(
    ("type_", "facts", "policy", "reasons"),
    [
        pytest.param(EMAIL, SendFacts(), OFF, (), id="email-not-specified-sendable-without-dpm"),
        pytest.param(EMAIL, SendFacts(), ON, (Reason.NO_CONSENT,), id="email-not-specified-blocked-in-dpm"),
        pytest.param(
            EMAIL,
            SendFacts(),
            Policy(data_privacy_mode=True, consent_required_to_send=False),
            (),
            id="dpm-without-send-rule",
        ),
        pytest.param(EMAIL, SendFacts(S), ON, (), id="subscribed-sendable"),
        pytest.param(SMS, SendFacts(), OFF, (Reason.NO_CONSENT,), id="sms-needs-consent"),
        pytest.param(WHATSAPP, SendFacts(), OFF, (Reason.NO_CONSENT,), id="whatsapp-needs-consent"),
        pytest.param(SMS, SendFacts(S), OFF, (), id="sms-subscribed"),
        pytest.param(EMAIL, SendFacts(U), OFF, (Reason.UNSUBSCRIBED,), id="unsubscribed"),
        pytest.param(EMAIL, SendFacts(S, wide_opt_out=True), OFF, (Reason.UNSUBSCRIBED_FROM_ALL,), id="wide"),
        pytest.param(EMAIL, SendFacts(S, undeliverable=True), OFF, (Reason.UNDELIVERABLE,), id="bounced"),
        pytest.param(
            EMAIL, SendFacts(S, confirmation=ConfirmationState.PENDING), DOI, (Reason.UNCONFIRMED,), id="unconfirmed"
        ),
        pytest.param(EMAIL, SendFacts(S, confirmation=ConfirmationState.PENDING), OFF, (), id="pending-without-doi"),
        pytest.param(EMAIL, SendFacts(S, confirmation=ConfirmationState.CONFIRMED), DOI, (), id="confirmed"),
        pytest.param(EMAIL, SendFacts(S), DOI, (), id="never-asked-counts-as-confirmed"),
        pytest.param(SMS, SendFacts(S, confirmation=ConfirmationState.PENDING), DOI, (), id="doi-is-email-only"),
        pytest.param(
            EMAIL,
            SendFacts(S, confirmation=ConfirmationState.PENDING),
            Policy(double_opt_in=False, double_opt_in_by_business_unit={0: True}),
            (Reason.UNCONFIRMED,),
            id="doi-per-business-unit",
        ),
        pytest.param(EMAIL, SendFacts(S, erased=True), OFF, (Reason.ERASED,), id="erased"),
        pytest.param(
            TypeFacts(Channel.EMAIL, 0, False), SendFacts(S), OFF, (Reason.TYPE_INACTIVE,), id="inactive-type"
        ),
        pytest.param(
            TypeFacts(Channel.EMAIL, 0, False),
            SendFacts(U, True, True, ConfirmationState.PENDING, True),
            Policy(data_privacy_mode=True, double_opt_in=True),
            (
                Reason.TYPE_INACTIVE,
                Reason.UNDELIVERABLE,
                Reason.UNSUBSCRIBED_FROM_ALL,
                Reason.UNSUBSCRIBED,
                Reason.UNCONFIRMED,
                Reason.ERASED,
            ),
            id="every-reason-that-applies",
        ),
    ],
)
def test_decide(type_: TypeFacts, facts: SendFacts, policy: Policy, reasons: tuple[Reason, ...]) -> None:
    assert decide(type_, facts, policy) == reasons


@pytest.mark.parametrize(
    "policy", [OFF, ON, DOI, Policy(data_privacy_mode=True, double_opt_in_by_business_unit={0: True})]
)
@pytest.mark.parametrize("type_", [EMAIL, SMS, TypeFacts(Channel.EMAIL, 0, False)])
def test_the_decision_table_is_decide_for_every_combination(type_: TypeFacts, policy: Policy) -> None:
    table = decision_table(type_, policy_key(policy))
    assert len(table) == 3 * 2 * 2 * 3 * 2
    for (status, wide, undeliverable, confirmation, erased), reasons in table.items():
        assert reasons == decide(type_, SendFacts(status, wide, undeliverable, confirmation, erased), policy)


def test_every_source_has_an_actor_class() -> None:
    assert {source.actor_class for source in Source} == set(ActorClass)


@pytest.mark.parametrize(
    ("current", "target", "resubscribe"),
    [
        (Status.UNSUBSCRIBED, Status.SUBSCRIBED, True),
        (Status.UNSUBSCRIBED, Status.NOT_SPECIFIED, True),  # NOT_SPECIFIED is sendable with data privacy off
        (Status.UNSUBSCRIBED, Status.UNSUBSCRIBED, False),
        (Status.NOT_SPECIFIED, Status.SUBSCRIBED, False),
        (Status.SUBSCRIBED, Status.NOT_SPECIFIED, False),
        (Status.SUBSCRIBED, Status.UNSUBSCRIBED, False),
    ],
)
def test_leaving_unsubscribed_is_a_resubscribe(current: Status, target: Status, resubscribe: bool) -> None:
    assert is_resubscribe(current, target) is resubscribe
