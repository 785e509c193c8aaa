"""Request and response shapes of the native API (snake_case, SPEC §3)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from assent.domain.model import LegalBasis, Outcome, Reason, Status

Explanation = Annotated[str, Field(max_length=4000)]
ApiSource = Literal["API", "MANUAL", "FORM", "WORKFLOW", "IMPORT"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel):
    """Cursor pagination: pass `next` back as `cursor` for the following page."""

    next: str | None = None


class EvidenceIn(Strict):
    legal_basis: LegalBasis | None = None
    legal_basis_explanation: Explanation | None = None
    processing_legal_basis: LegalBasis | None = None
    notice_text: Annotated[str, Field(max_length=4000)] | None = Field(
        None, description="The consent notice the person saw (required with source FORM for opt-ins)."
    )
    notice_version: Annotated[str, Field(max_length=50)] | None = None
    source: ApiSource = Field(
        "API",
        description="Who this change acts as: API (a user's integration), MANUAL, FORM (the person, "
        "through your form: give notice_text), WORKFLOW or IMPORT (their rules apply: R5, R7, R8).",
    )


class StatusChangeIn(Strict):
    subscription_type_id: int
    status: Status


class StatusChangesIn(EvidenceIn):
    changes: list[StatusChangeIn] = Field(min_length=1, max_length=200)


class ChangeResultOut(BaseModel):
    subscription_type_id: int
    old_status: Status
    new_status: Status
    outcome: Outcome
    reason: Reason | None


class StatusChangesOut(BaseModel):
    address: str
    channel: str
    results: list[ChangeResultOut]


class WideOptOutOut(BaseModel):
    business_unit_id: int
    set_by: str
    source: str
    at: dt.datetime


class WideChangeOut(BaseModel):
    address: str
    channel: str
    business_unit_id: int
    outcome: Outcome
    reason: Reason | None
    unsubscribed_from_all: bool


class SubscriptionStatusOut(BaseModel):
    subscription_type_id: int
    business_unit_id: int
    name: str
    is_active: bool
    status: Status
    legal_basis: str | None
    legal_basis_explanation: str | None
    source: str | None
    updated_at: dt.datetime | None


class SubscriberOut(BaseModel):
    address: str
    channel: str
    statuses: list[SubscriptionStatusOut]
    wide_opt_outs: list[WideOptOutOut]
    undeliverable: bool
    undeliverable_reason: str | None
    soft_bounces: int
    confirmed: bool | None
    processing_legal_basis: str | None
    erased: bool
    properties: dict[str, bool] = Field(
        description='HubSpot-style properties: "Opted out of email: <type>", "Unsubscribed from all email".'
    )


class EventOut(BaseModel):
    id: int
    at: dt.datetime
    kind: str
    channel: str
    address: str | None
    business_unit_id: int | None
    subscription_type_id: int | None
    old_status: str | None
    new_status: str | None
    legal_basis: str | None
    legal_basis_explanation: str | None
    processing_legal_basis: str | None
    source: str
    actor_kind: str
    actor_id: str | None
    ip: str | None
    user_agent: str | None
    job_id: str | None
    notice_version: str | None
    notice_text: str | None
    redacted: bool


class EventPage(Page):
    results: list[EventOut]


class DecisionOut(BaseModel):
    address: str
    channel: str
    subscription_type_id: int
    allowed: bool
    reasons: list[Reason]


class DecisionBatchOut(BaseModel):
    results: list[DecisionOut]


class ExplanationIn(Strict):
    legal_basis_explanation: Explanation
    legal_basis: LegalBasis | None = None
