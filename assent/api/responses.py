"""The error answers every native API route may give, documented once in OpenAPI: RFC 9457
problem documents (`application/problem+json`, see api/problems.py). The router of
`/api/v1` carries them, so each operation lists them beside its own answers and a client (or
schemathesis) finds no undocumented status."""

from __future__ import annotations

from typing import Any

PROBLEM_JSON = "application/problem+json"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "An RFC 9457 problem document with a stable `code` and the offending `field`.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "examples": ["VALIDATION_FAILED"]},
        "field": {"type": "string", "examples": ["address"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}, "code": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}


def problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}


#: on every operation of /api/v1
COMMON: dict[int | str, dict[str, Any]] = {
    401: problem("No API key, or one that is unknown or revoked (`UNAUTHENTICATED`)."),
    403: problem("The API key lacks the scope this operation needs (`FORBIDDEN`)."),
    404: problem("The address, contact, type, unit or job named in the path does not exist (`NOT_FOUND`)."),
    409: problem(
        "The request conflicts with the current state, or a write's `Idempotency-Key` is still in use"
        " (`IDEMPOTENCY_KEY_IN_USE`)."
    ),
    413: problem("The request body is over this route's limit (`BODY_TOO_LARGE`), refused before it is read."),
    422: problem("A field is missing, malformed or out of range; `field` names it (nothing was written)."),
    429: problem(
        "Rate limited (public form submissions, resubscribe emails); `Retry-After` says when to try again."
    ),
}
