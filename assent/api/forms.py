"""`POST /api/v1/form-submissions`: a website's own signup form (R16, R6), the JSON twin of
the hosted `/subscribe/{business_unit_id}` page.

Two ways in: an API key with the write scope (a server posting for its visitors), or a
business unit's public form key (a browser posting straight from the brand's site, so CORS
is open on this path). A form key only lets the person opt in as themself to that unit's
types; its callers are rate limited per client and per address and are told only that the
submission was accepted, never what state the address was in.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from assent.actions import forms
from assent.actions import signups as signup_actions
from assent.actions.links import TooManyRequests
from assent.api import auth
from assent.api.common import audit_actor, client_context, db_of
from assent.api.problems import problem_response
from assent.api.schemas import ChangeResultOut, Strict
from assent.domain.model import Channel
from assent.services import form_keys, links, ratelimit, signups
from assent.services.apikeys import Principal
from assent.services.errors import Invalid, Problem

router = APIRouter(tags=["forms"])

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
}


class Unauthorized(Problem):
    status = 401
    title = "Unauthorized"


class Forbidden(Problem):
    status = 403
    title = "Forbidden"


class FormSubmissionIn(Strict):
    business_unit_id: int = 0
    channel: Channel = Channel.EMAIL
    address: Annotated[str, Field(max_length=320, examples=["alice@example.com"])]
    subscription_type_ids: list[int] = Field(min_length=1, max_length=50)
    consent: bool = Field(description="The person ticked the consent box; must be true.")
    notice_text: Annotated[str, Field(max_length=4000)] | None = Field(
        None, description="The consent notice the person saw; default: the business unit's notice text."
    )
    notice_version: Annotated[str, Field(max_length=50)] | None = None
    language: Annotated[str, Field(max_length=35)] | None = Field(None, description="For the confirmation email.")
    form_key: Annotated[str, Field(max_length=100)] | None = Field(
        None, description="The business unit's public form key, when posting without an API key."
    )
    website: Annotated[str, Field(max_length=500)] | None = Field(
        None, description="Honeypot: a hidden field people leave empty. Filled in, nothing is written."
    )


class FormSubmissionOut(BaseModel):
    accepted: bool
    #: only for API-key callers
    address: str | None = None
    channel: Channel | None = None
    results: list[ChangeResultOut] | None = None
    confirmation_required: bool | None = None


@router.options("/form-submissions", include_in_schema=False)
def preflight() -> Response:
    return Response(status_code=204, headers=CORS)


@router.post(
    "/form-submissions",
    response_model=FormSubmissionOut,
    response_model_exclude_none=True,
    status_code=202,
    summary="A signup from your website's form (double opt-in applies)",
)
def submit(request: Request, body: FormSubmissionIn) -> Any:
    public = not request.headers.get("authorization")
    try:
        return _submit(request, body, public)
    except Problem as problem:
        response = problem_response(
            problem.status, problem.code, problem.title, problem.detail, problem.errors, **problem.extra
        )
        if public:
            response.headers.update(CORS)
        return response


def _submit(request: Request, body: FormSubmissionIn, public: bool) -> Any:
    db = db_of(request)
    principal: Principal | None = None
    if public:
        _check_form_key(request, body)
    else:
        principal = auth.principal_from(request, auth.bearer_token(request.headers["authorization"]))
        if principal is None or not principal.allows("write"):
            raise Unauthorized("UNAUTHENTICATED", "Send an API key with the write scope, or a form_key.")
    accepted = JSONResponse({"accepted": True}, status_code=202, headers=CORS if public else None)
    if body.website:
        return accepted  # the honeypot: a bot is thanked and nothing is written
    if not body.consent:
        raise Invalid("consent", "the person must agree to the notice", "CONSENT_REQUIRED")
    language = links.normalize_language(body.language)
    if public:
        exceeded = ratelimit.first_exceeded(
            db,
            [
                (signups.PER_CLIENT, request.client.host if request.client else "unknown"),
                (signups.PER_ADDRESS, body.address.strip().lower()),
            ],
        )
        if exceeded is not None:
            retry = exceeded.retry_after
            raise TooManyRequests("RATE_LIMITED", "Too many signups; try again later.", extra={"retry_after": retry})
    outcome = signup_actions.submit_form(
        db,
        request.app.state.settings,
        signup_actions.Signup(
            body.business_unit_id,
            body.channel,
            body.address,
            body.subscription_type_ids,
            body.notice_text,
            body.notice_version,
            language,
        ),
        client_context(request),
        actor_id=f"form-key:{body.business_unit_id}" if public else principal.id if principal else None,
    )
    if public:
        return accepted
    return {
        "accepted": True,
        "address": outcome.address.display,
        "channel": body.channel,
        "results": [r.as_dict() for r in outcome.results],
        "confirmation_required": outcome.follow_up == "confirm",
    }


def _check_form_key(request: Request, body: FormSubmissionIn) -> None:
    if not body.form_key:
        raise Unauthorized("UNAUTHENTICATED", "Send the business unit's form_key (or an API key).")
    with db_of(request).read() as conn:
        owner = form_keys.owner_of(conn, body.form_key)
    if owner is None:
        raise Unauthorized("UNAUTHENTICATED", "This form key is unknown or was replaced.")
    if owner != body.business_unit_id:
        raise Forbidden("FORBIDDEN", "This form key belongs to another business unit.")


class FormKeyOut(BaseModel):
    business_unit_id: int
    form_key: str


@router.post(
    "/business-units/{business_unit_id}/form-key",
    response_model=FormKeyOut,
    status_code=201,
    tags=["business-units"],
    summary="Create or replace the unit's public key for website signup forms",
)
def create_form_key(
    request: Request, business_unit_id: int, principal: Principal = Depends(auth.admin)
) -> dict[str, Any]:
    """The key is public by design (it sits in your web page): it lets a form opt people in as
    themselves, nothing more. Creating a new one replaces the old one at once."""
    key = forms.create_form_key(db_of(request), business_unit_id, audit_actor(principal), client_context(request))
    return {"business_unit_id": business_unit_id, "form_key": key}
