"""Request and response shapes of the native API (snake_case, SPEC §3)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from assent.domain.model import API_KEY_SOURCE_ORDER, BULK_SOURCES, Channel, LegalBasis, Outcome, Reason, Status
from assent.services.events import EventOut  # the feed's shape, shared with webhooks

#: Database ids: 32-bit in the schema, so that nobody can send one no column can hold.
MAX_ID = 2_147_483_647
Id = Annotated[int, Field(ge=0, le=MAX_ID)]
PathId = Annotated[int, Path(ge=0, le=MAX_ID)]
QueryId = Annotated[int, Query(ge=0, le=MAX_ID)]
Explanation = Annotated[str, Field(max_length=4000)]
if TYPE_CHECKING:
    ApiSource = str
    BulkSource = str
else:
    #: the sources an API key may claim: the domain's list (model.API_KEY_SOURCE_ORDER)
    ApiSource = Literal[tuple(source.value for source in API_KEY_SOURCE_ORDER)]
    #: what a bulk update may name as its source (model.BULK_SOURCES)
    BulkSource = Literal[tuple(BULK_SOURCES)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL; SQLite can. Refuse it everywhere, so that both
        # backends answer the same 422 instead of one of them a 500.
        if _has_nul(value):
            raise ValueError("must not contain NUL (\\u0000) characters")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _fits_a_column(cls, value: object) -> object:
        # Every integer Assent takes (ids, positions, limits) fits a 32-bit column; a larger
        # one is a 422 here rather than an overflow in the database.
        if _has_huge_int(value):
            raise ValueError(f"must be between {-MAX_ID - 1} and {MAX_ID}")
        return value


def _has_huge_int(value: object) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return not -MAX_ID - 1 <= value <= MAX_ID
    if isinstance(value, dict):
        return any(_has_huge_int(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_huge_int(v) for v in value)
    return False


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def not_null(*fields: str) -> Any:
    """A validator for PATCH bodies: these fields may be left out, but not set to null."""

    def check(cls: type[BaseModel], value: object) -> object:
        if value is None:
            raise ValueError("cannot be null")
        return value

    return field_validator(*fields, mode="before")(classmethod(check))


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
    subscription_type_id: Id
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


MAX_BATCH_ADDRESSES = 1000


class BatchItemIn(Strict):
    address: Annotated[str, Field(max_length=320)]
    changes: list[StatusChangeIn] = Field(min_length=1, max_length=50)


class StatusBatchIn(EvidenceIn):
    channel: Channel
    items: list[BatchItemIn] = Field(min_length=1, max_length=MAX_BATCH_ADDRESSES)


class BatchItemOut(BaseModel):
    address: str
    results: list[ChangeResultOut] | None = None
    error: dict[str, str] | None = Field(None, description='{"code": "INVALID_ADDRESS", "reason": …}')


class StatusBatchOut(BaseModel):
    channel: str
    results: list[BatchItemOut]


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


class ComplaintOut(BaseModel):
    business_unit_id: int
    at: dt.datetime


class SubscriberOut(BaseModel):
    address: str
    channel: str
    statuses: list[SubscriptionStatusOut]
    wide_opt_outs: list[WideOptOutOut]
    undeliverable: bool
    undeliverable_reason: str | None = Field(description="The bounce's diagnostic, as the provider gave it.")
    undeliverable_at: dt.datetime | None = Field(description="When the address bounced (hard).")
    soft_bounces: int = Field(description="Soft (transient) bounces counted; they never suppress.")
    last_soft_bounce_at: dt.datetime | None
    last_soft_bounce_reason: str | None
    complaints: list[ComplaintOut] = Field(description="Spam complaints in force, as wide opt-outs by unit.")
    confirmed: bool | None
    processing_legal_basis: str | None
    erased: bool
    properties: dict[str, bool] = Field(
        description='HubSpot-style properties: "Opted out of email: <type>", "Unsubscribed from all email".'
    )
    as_of: dt.datetime | None = Field(None, description="set when asked `as_of`: the moment this state is of")
    policy_as_of: str | None = Field(
        None,
        description='with `as_of`: the policy applied: "now" (unchanged since), or "settings_audit" (as it was'
        " then, rebuilt from the settings audit)",
    )


class EventPage(Page):
    results: list[EventOut]


class DecisionOut(BaseModel):
    address: str
    channel: str
    subscription_type_id: int
    allowed: bool
    reasons: list[Reason]
    defer_until: dt.datetime | None = Field(
        None,
        description="Only with reason QUIET_HOURS (R28): the first moment the unit's sending window is open in"
        " every time zone of the number — schedule the message for then. null when the window never opens.",
    )
    as_of: dt.datetime | None = Field(None, description="set when asked `as_of`")
    policy_as_of: str | None = Field(
        None,
        description='with `as_of`: the policy applied: "now" (unchanged since), or "settings_audit" (as it was'
        " then, rebuilt from the settings audit)",
    )


class DecisionBatchOut(BaseModel):
    results: list[DecisionOut]


class ExplanationIn(Strict):
    legal_basis_explanation: Explanation
    legal_basis: LegalBasis | None = None
