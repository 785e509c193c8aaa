"""`/api/v1/workflows`: contact-based automation with "manage communication subscription
status" (R23), enrollment by hand or by search, and the run log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from assent.actions import workflows as actions
from assent.api import auth
from assent.api.common import db_of, parse_cursor
from assent.api.schemas import Explanation, Id, PathId, Strict
from assent.domain.model import Channel, LegalBasis, Status
from assent.jobs.selection import MAX_ROWS, ContactSearch
from assent.services import workflows as reading
from assent.services.apikeys import Principal
from assent.services.errors import Collected

router = APIRouter(tags=["workflows"])
Name = Annotated[str, Field(min_length=1, max_length=200)]


class ContactCreated(Strict):
    type: Literal["CONTACT_CREATED"]


class PropertyChanged(Strict):
    type: Literal["PROPERTY_CHANGED"]
    property: Annotated[str, Field(min_length=1, max_length=200)]
    value: Annotated[str, Field(max_length=2000)] | None = None


class FormSubmitted(Strict):
    type: Literal["FORM_SUBMITTED"]
    business_unit_id: Id | None = None


class Manual(Strict):
    type: Literal["MANUAL"]


Trigger = Annotated[ContactCreated | PropertyChanged | FormSubmitted | Manual, Field(discriminator="type")]


class SetStatus(Strict):
    type: Literal["SET_SUBSCRIPTION_STATUS"]
    channel: Channel
    subscription_type_id: Id
    status: Status
    legal_basis: LegalBasis | None = None
    legal_basis_explanation: Explanation | None = None
    processing_legal_basis: LegalBasis | None = None


class SetUnsubscribeAll(Strict):
    type: Literal["SET_UNSUBSCRIBE_ALL"]
    channel: Channel
    business_unit_id: Id


Action = Annotated[SetStatus | SetUnsubscribeAll, Field(discriminator="type")]


class WorkflowIn(Strict):
    name: Name
    enabled: bool = True
    reenroll: bool = False
    trigger: Trigger
    actions: list[Action] = Field(min_length=1, max_length=20)


class WorkflowPatch(Strict):
    name: Name | None = None
    enabled: bool | None = None
    reenroll: bool | None = None
    trigger: Trigger | None = None
    actions: list[Action] | None = Field(None, min_length=1, max_length=20)


class Counts(BaseModel):
    CHANGED: int
    UNCHANGED: int
    REFUSED: int


class WorkflowOut(BaseModel):
    id: int
    name: str
    enabled: bool
    reenroll: bool
    trigger: dict[str, Any]
    actions: list[dict[str, Any]]
    counts: Counts
    deleted: bool


class WorkflowPage(BaseModel):
    results: list[WorkflowOut]
    next: str | None


class SearchIn(Strict):
    q: Annotated[str, Field(max_length=320)] | None = None
    subscription_type_id: Id | None = None
    status: Status | None = None
    business_unit_id: Id | None = None


class EnrollIn(Strict):
    contact_ids: list[Id] | None = Field(None, min_length=1, max_length=MAX_ROWS)
    contact_search: SearchIn | None = None


class EnrollOut(BaseModel):
    workflow_id: int
    job_id: str | None
    contacts: int


class RunAction(BaseModel):
    type: str
    subscription_type_id: int | None
    business_unit_id: int | None
    outcome: str
    reason: str | None


class Run(BaseModel):
    contact_id: int
    address: str | None
    trigger: str
    enrolled_at: Any
    finished_at: Any
    actions: list[RunAction]


class RunPage(BaseModel):
    results: list[Run]
    next: str | None


def _dump(body: Strict, *, exclude_unset: bool = False) -> dict[str, Any]:
    return body.model_dump(mode="json", exclude_unset=exclude_unset, exclude_none=False)


@router.post("/workflows", status_code=201, response_model=WorkflowOut, summary="Create a workflow")
def create_workflow(request: Request, body: WorkflowIn, principal: Principal = Depends(auth.write)) -> dict[str, Any]:
    values = _dump(body)
    values["actions"] = [{k: v for k, v in a.items() if v is not None} for a in values["actions"]]
    return actions.create_workflow(db_of(request), values, actor_id=principal.id)


@router.get("/workflows", response_model=WorkflowPage, summary="Workflows")
def list_workflows(
    request: Request,
    after: Annotated[str | None, Query(max_length=18)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    with db_of(request).read() as conn:
        return reading.page(conn, parse_cursor(after, "after"), limit)


@router.get("/workflows/{workflow_id}", response_model=WorkflowOut, summary="A workflow with its outcome counts")
def get_workflow(request: Request, workflow_id: PathId, _: Principal = Depends(auth.read)) -> dict[str, Any]:
    with db_of(request).read() as conn:
        return reading.view(conn, workflow_id)


@router.patch("/workflows/{workflow_id}", response_model=WorkflowOut, summary="Change, enable or disable")
def patch_workflow(
    request: Request, workflow_id: PathId, body: WorkflowPatch, _: Principal = Depends(auth.write)
) -> dict[str, Any]:
    changes = _dump(body, exclude_unset=True)
    problems = Collected()
    for name in ("name", "enabled", "reenroll", "trigger", "actions"):
        if name in changes and changes[name] is None:
            problems.add(name, "must not be null")
    problems.raise_if_any()
    if "actions" in changes:
        changes["actions"] = [{k: v for k, v in a.items() if v is not None} for a in changes["actions"]]
    return actions.update_workflow(db_of(request), workflow_id, changes)


@router.delete("/workflows/{workflow_id}", status_code=204, summary="Delete (its run log stays readable)")
def delete_workflow(request: Request, workflow_id: PathId, _: Principal = Depends(auth.write)) -> Response:
    actions.delete_workflow(db_of(request), workflow_id)
    return Response(status_code=204)


@router.post(
    "/workflows/{workflow_id}/enroll", status_code=202, response_model=EnrollOut, summary="Enroll contacts (a job)"
)
def enroll(
    request: Request, workflow_id: PathId, body: EnrollIn, principal: Principal = Depends(auth.write)
) -> dict[str, Any]:
    if (body.contact_ids is None) == (body.contact_search is None):
        problems = Collected()
        problems.add("contact_ids", "give exactly one of contact_ids or contact_search", "SELECTION_REQUIRED")
        problems.raise_if_any()
    search = ContactSearch(**body.contact_search.model_dump()) if body.contact_search else None
    return actions.enroll(
        db_of(request), workflow_id, contact_ids=body.contact_ids, search=search, actor_id=principal.id
    )


@router.get("/workflows/{workflow_id}/runs", response_model=RunPage, summary="The run log, oldest first")
def runs(
    request: Request,
    workflow_id: PathId,
    after: Annotated[str | None, Query(max_length=60)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    outcome: Literal["CHANGED", "UNCHANGED", "REFUSED"] | None = None,
    reason: Annotated[str | None, Query(max_length=40)] = None,
    _: Principal = Depends(auth.read),
) -> dict[str, Any]:
    with db_of(request).read() as conn:
        return reading.runs(conn, workflow_id, after=after, limit=limit, outcome=outcome, reason=reason)
