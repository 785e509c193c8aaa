"""`/api/v1/business-units` and `/api/v1/subscription-types`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, field_validator

from assent.api import auth
from assent.api.common import db_of
from assent.api.schemas import Id, PathId, QueryId, Strict, not_null
from assent.domain.model import Channel
from assent.services import catalog
from assent.services.apikeys import Principal

router = APIRouter(tags=["catalog"])

Color = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$", examples=["#1F6FEB"])]
Language = Annotated[str, Field(pattern=r"^[a-z]{2}(-[A-Z]{2})?$", examples=["en", "sv"])]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Branding(Strict):
    company_name: Annotated[str, Field(max_length=200)] | None = None
    postal_address: Annotated[str, Field(max_length=500)] | None = None
    logo_url: Annotated[str, Field(max_length=2000, pattern=r"^https?://")] | None = None
    primary_color: Color | None = None
    accent_color: Color | None = None
    sms_help_text: Annotated[str, Field(max_length=320)] | None = None
    notice_text: Annotated[str, Field(max_length=4000)] | None = None
    notice_version: Annotated[str, Field(max_length=50)] | None = None
    double_opt_in: bool | None = Field(None, description="None follows the account setting")


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
    double_opt_in: bool | None
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
def create_business_unit(request: Request, body: BusinessUnitIn, _: Principal = Depends(auth.admin)) -> dict[str, Any]:
    with db_of(request).write() as conn:
        return catalog.create_business_unit(conn, body.model_dump())


@router.patch("/business-units/{business_unit_id}", response_model=BusinessUnitOut)
def update_business_unit(
    request: Request, business_unit_id: PathId, body: BusinessUnitPatch, _: Principal = Depends(auth.admin)
) -> dict[str, Any]:
    with db_of(request).write() as conn:
        return catalog.update_business_unit(conn, business_unit_id, body.model_dump(exclude_unset=True))


class Translation(Strict):
    name: Name
    description: Annotated[str, Field(max_length=2000)] = ""


class SubscriptionTypeIn(Strict):
    name: Name
    channel: Channel
    business_unit_id: Id = 0
    description: Annotated[str, Field(max_length=2000)] = ""
    purpose: Annotated[str, Field(max_length=200)] | None = None
    is_active: bool = True
    position: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    translations: dict[Language, Translation] = Field(default_factory=dict)


class SubscriptionTypePatch(Strict):
    name: Name | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    purpose: Annotated[str, Field(max_length=200)] | None = None
    is_active: bool | None = Field(None, description="false archives the type")
    position: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    translations: dict[Language, Translation] | None = None

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
    request: Request, body: SubscriptionTypeIn, _: Principal = Depends(auth.admin)
) -> dict[str, Any]:
    values = body.model_dump()
    values["channel"] = body.channel.value
    with db_of(request).write() as conn:
        return catalog.create_subscription_type(conn, values)


@router.patch("/subscription-types/{type_id}", response_model=SubscriptionTypeOut)
def update_subscription_type(
    request: Request, type_id: PathId, body: SubscriptionTypePatch, _: Principal = Depends(auth.admin)
) -> dict[str, Any]:
    with db_of(request).write() as conn:
        return catalog.update_subscription_type(conn, type_id, body.model_dump(exclude_unset=True))
