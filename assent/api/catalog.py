"""`/api/v1/business-units` and `/api/v1/subscription-types`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AfterValidator, BaseModel, Field, field_validator

from assent.actions import catalog as actions
from assent.api import auth
from assent.api.common import audit_actor, client_context, db_of
from assent.api.schemas import Id, PathId, QueryId, Strict, not_null
from assent.domain.branding import COLOR_GRAMMAR, check_logo_url, parse_color
from assent.domain.model import Channel
from assent.services import catalog, languages
from assent.services.apikeys import Principal

router = APIRouter(tags=["catalog"])

Color = Annotated[
    str,
    Field(max_length=40, examples=["#1f6feb"], description=f"A colour: {COLOR_GRAMMAR}; stored as #rrggbb"),
    AfterValidator(parse_color),
]
LogoUrl = Annotated[
    str, Field(max_length=2000, examples=["https://example.com/logo.svg"]), AfterValidator(check_logo_url)
]
Language = Annotated[
    str, Field(pattern=r"^[a-z]{2}(-[A-Z]{2})?$", examples=["en", "sv"]), AfterValidator(languages.check)
]
Name = Annotated[str, Field(min_length=1, max_length=200)]


Keyword = Annotated[str, Field(min_length=1, max_length=40)]
ReplyText = Annotated[str, Field(max_length=320)]
TimeOfDay = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["08:00"])]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class SmsKeywords(Strict):
    """Extra keywords, beside the defaults (STOP… / START, YES, UNSTOP / HELP, INFO)."""

    opt_out: list[Keyword] = Field(default_factory=list, max_length=20, examples=[["STOPP", "AVSLUTA", "ARRET"]])
    opt_in: list[Keyword] = Field(default_factory=list, max_length=20)
    help: list[Keyword] = Field(default_factory=list, max_length=20)


class SmsReplies(Strict):
    """The unit's own reply texts (`{company}` is replaced); unset → the default in the
    unit's language."""

    opt_out: ReplyText | None = None
    opt_in: ReplyText | None = None
    help: ReplyText | None = None


class QuietWindow(Strict):
    start: TimeOfDay
    end: TimeOfDay
    days: list[Day] = Field(default=["mon", "tue", "wed", "thu", "fri", "sat", "sun"], min_length=1)


class QuietHours(Strict):
    """Sending windows in the recipient's local time; unset → no quiet hours."""

    SMS: QuietWindow | None = None
    WHATSAPP: QuietWindow | None = None


class NoticeTranslation(Strict):
    """The unit's consent notice in one language (like a type's `translations`)."""

    text: Annotated[str, Field(min_length=1, max_length=4000)]

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return not_blank(value)


class _Branding(Strict):
    company_name: Annotated[str, Field(max_length=200)] | None = None
    postal_address: Annotated[str, Field(max_length=500)] | None = None
    logo_url: LogoUrl | None = None
    primary_color: Color | None = None
    accent_color: Color | None = None
    sms_help_text: Annotated[str, Field(max_length=320)] | None = None
    notice_text: Annotated[str, Field(max_length=4000)] | None = None
    notice_version: Annotated[str, Field(max_length=50)] | None = None
    notice_translations: dict[Language, NoticeTranslation] | None = Field(
        None, description="The notice in other languages, shown on the pages in the person's language"
    )
    double_opt_in: bool | None = Field(None, description="None follows the account setting")
    sms_keywords: SmsKeywords | None = None
    sms_replies: SmsReplies | None = None
    quiet_hours: QuietHours | None = None


RECEIPTS = "Email people a signed consent receipt of their own opt-in (preference center, signup)"


class BusinessUnitIn(_Branding):
    name: Name
    default_language: Language = "en"
    consent_receipts: bool = Field(False, description=RECEIPTS)

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return not_blank(value)


class BusinessUnitPatch(_Branding):
    """Only the fields sent change; `name` and `default_language` cannot be emptied."""

    name: Name | None = None
    default_language: Language | None = None
    consent_receipts: bool | None = Field(None, description=RECEIPTS)

    _not_null = not_null("name", "default_language", "consent_receipts")

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return not_blank(value)


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


class BusinessUnitOut(BaseModel):
    id: int
    name: str
    company_name: str | None
    postal_address: str | None
    logo_url: str | None
    primary_color: str | None
    accent_color: str | None
    default_language: str
    sms_help_text: str | None
    notice_text: str | None
    notice_version: str | None
    notice_translations: dict[str, dict[str, str]] | None = None
    double_opt_in: bool | None
    sms_keywords: dict[str, list[str]] | None = None
    sms_replies: dict[str, str | None] | None = None
    quiet_hours: dict[str, dict[str, Any] | None] | None = None
    consent_receipts: bool
    created_at: dt.datetime
    updated_at: dt.datetime


@router.get("/business-units", response_model=list[BusinessUnitOut])
def list_business_units(request: Request, _: Principal = Depends(auth.read)) -> list[dict[str, Any]]:
    with db_of(request).read() as conn:
        return catalog.list_business_units(conn)


@router.get("/business-units/{business_unit_id}", response_model=BusinessUnitOut)
def get_business_unit(request: Request, business_unit_id: PathId, _: Principal = Depends(auth.read)) -> dict[str, Any]:
    with db_of(request).read() as conn:
        return catalog.get_business_unit(conn, business_unit_id)


@router.post("/business-units", response_model=BusinessUnitOut, status_code=201)
def create_business_unit(
    request: Request, body: BusinessUnitIn, principal: Principal = Depends(auth.admin)
) -> dict[str, Any]:
    by, context = audit_actor(principal), client_context(request)
    return actions.create_business_unit(db_of(request), body.model_dump(), by, context)


@router.patch("/business-units/{business_unit_id}", response_model=BusinessUnitOut)
def update_business_unit(
    request: Request, business_unit_id: PathId, body: BusinessUnitPatch, principal: Principal = Depends(auth.admin)
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    by, context = audit_actor(principal), client_context(request)
    return actions.update_business_unit(db_of(request), business_unit_id, changes, by, context)


class Translation(Strict):
    name: Name
    description: Annotated[str, Field(max_length=2000)] = ""


SendGridGroup = Annotated[
    int,
    Field(
        ge=1,
        le=2_147_483_647,
        description="The SendGrid unsubscribe group (asm_group_id) that stands for this type: its "
        "group_unsubscribe events opt out of this type (one type per group; null: none).",
    ),
]


class SubscriptionTypeIn(Strict):
    name: Name
    channel: Channel
    business_unit_id: Id = 0
    description: Annotated[str, Field(max_length=2000)] = ""
    purpose: Annotated[str, Field(max_length=200)] | None = None
    is_active: bool = True
    position: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    translations: dict[Language, Translation] = Field(default_factory=dict)
    sendgrid_group_id: SendGridGroup | None = None


class SubscriptionTypePatch(Strict):
    name: Name | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    purpose: Annotated[str, Field(max_length=200)] | None = None
    is_active: bool | None = Field(None, description="false archives the type")
    position: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    translations: dict[Language, Translation] | None = None
    sendgrid_group_id: SendGridGroup | None = None

    _not_null = not_null("name", "description", "is_active", "position", "translations")


class SubscriptionTypeOut(BaseModel):
    id: int
    business_unit_id: int
    channel: Channel
    name: str
    description: str
    purpose: str | None
    is_active: bool
    position: int
    translations: dict[str, dict[str, str]]
    sendgrid_group_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


@router.get("/subscription-types", response_model=list[SubscriptionTypeOut])
def list_subscription_types(
    request: Request,
    business_unit_id: QueryId | None = None,
    channel: Channel | None = None,
    include_inactive: bool = False,
    _: Principal = Depends(auth.read),
) -> list[dict[str, Any]]:
    with db_of(request).read() as conn:
        return catalog.list_subscription_types(
            conn,
            business_unit_id=business_unit_id,
            channel=channel.value if channel else None,
            include_inactive=include_inactive,
        )


@router.get("/subscription-types/{type_id}", response_model=SubscriptionTypeOut)
def get_subscription_type(request: Request, type_id: PathId, _: Principal = Depends(auth.read)) -> dict[str, Any]:
    with db_of(request).read() as conn:
        return catalog.get_subscription_type(conn, type_id)


@router.post("/subscription-types", response_model=SubscriptionTypeOut, status_code=201)
def create_subscription_type(
    request: Request, body: SubscriptionTypeIn, principal: Principal = Depends(auth.admin)
) -> dict[str, Any]:
    values = body.model_dump()
    values["channel"] = body.channel.value
    return actions.create_subscription_type(db_of(request), values, audit_actor(principal), client_context(request))


@router.patch("/subscription-types/{type_id}", response_model=SubscriptionTypeOut)
def update_subscription_type(
    request: Request, type_id: PathId, body: SubscriptionTypePatch, principal: Principal = Depends(auth.admin)
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    by, context = audit_actor(principal), client_context(request)
    return actions.update_subscription_type(db_of(request), type_id, changes, by, context)
