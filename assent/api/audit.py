"""`/api/v1/audit`: account changes (settings, the catalog, users, API and form keys)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from assent.api import auth
from assent.api.common import db_of, parse_cursor
from assent.domain.audit import AuditTag
from assent.services import audit
from assent.services.apikeys import Principal

router = APIRouter(tags=["ledger and settings"])


class AuditEventOut(BaseModel):
    id: int
    at: dt.datetime
    tag: AuditTag = Field(description='"subject:object:action"; values never change once published')
    subject_id: str | None = Field(description="What changed: a subscription type, business unit, user or key id")
    actor_kind: str
    actor_id: str | None = Field(description='"user:<id>", "api_key:<id>", or "cli"')
    before: dict[str, Any] | None = Field(description="The changed fields before (null for a creation)")
    after: dict[str, Any] | None
    ip: str | None
    user_agent: str | None


class AuditPage(BaseModel):
    results: list[AuditEventOut]
    next: str = Field(description="Pass back as `after` for the following page (or to poll for newer changes)")


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="Account changes, oldest first",
    description="Every change that is not about one address: settings (data privacy mode first of all), "
    "business units, subscription types, users and roles, API keys and form keys. Each was written in the "
    "same transaction as the change. Filter with `tag=catalog` or `tag=catalog:subscription_type` (a prefix at "
    "a colon) or a whole tag; page with `after=<next>`.",
)
def list_audit(
    request: Request,
    tag: Annotated[str | None, Query(max_length=60, examples=["account:data_privacy_mode:set", "catalog"])] = None,
    after: Annotated[str | None, Query(max_length=20, description="the `next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    _: Principal = Depends(auth.admin),
) -> dict[str, Any]:
    position = parse_cursor(after, "after")
    with db_of(request).read() as conn:
        page = audit.page(conn, tag=tag, after=position, limit=limit)
    last = page["results"][-1]["id"] if page["results"] else position
    return {"results": page["results"], "next": str(last or 0)}
