"""`/api/v1/events` (the ledger as a feed) and `/api/v1/settings`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from assent.actions import account
from assent.api import auth
from assent.api.common import audit_actor, client_context, db_of
from assent.api.schemas import EventPage, Strict, not_null
from assent.domain.keywords import RevocationPolicy
from assent.services import events as ledger_reads
from assent.services import settings as settings_service
from assent.services.apikeys import Principal

router = APIRouter(tags=["ledger and settings"])


@router.get(
    "/events",
    response_model=EventPage,
    summary="The ledger as a feed, oldest first",
    description="Poll with `after=<next>` from the previous page. Ids are handed out in commit "
    "order without gaps, so a reader that follows `next` never misses an event.",
)
def events(
    request: Request,
    after: Annotated[str | None, Query(description="the `next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    with db_of(request).read_replica() as conn:
        return ledger_reads.feed_page(conn, after, limit)


class SettingsOut(BaseModel):
    data_privacy_mode: bool
    consent_required_to_send: bool
    double_opt_in: bool
    default_phone_region: str | None
    sms_numbers: dict[str, int]
    sms_revocation_policy: RevocationPolicy
    updated_at: dt.datetime


class SettingsPatch(Strict):
    data_privacy_mode: bool | None = None
    consent_required_to_send: bool | None = None
    double_opt_in: bool | None = None
    default_phone_region: str | None = None
    sms_numbers: dict[str, int] | None = None
    sms_revocation_policy: RevocationPolicy | None = Field(
        None,
        description="What a text with a STOP-family word among other words does (FCC 47 CFR 64.1200(a)(10)):"
        " OPT_OUT (default) opts the sender out at once; REVIEW queues it for a person to confirm or dismiss.",
    )

    _not_null = not_null(
        "data_privacy_mode", "consent_required_to_send", "double_opt_in", "sms_numbers", "sms_revocation_policy"
    )


@router.get("/settings", response_model=SettingsOut)
def get_settings(request: Request, _: Principal = Depends(auth.read)) -> dict[str, Any]:
    with db_of(request).read() as conn:
        return settings_service.get_settings(conn)


@router.patch("/settings", response_model=SettingsOut, summary="Data privacy mode, double opt-in, SMS numbers")
def patch_settings(request: Request, body: SettingsPatch, principal: Principal = Depends(auth.admin)) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    return account.update_settings(db_of(request), changes, audit_actor(principal), client_context(request))
