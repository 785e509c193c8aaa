"""Errors that reach a user. Each interface renders them its own way (RFC 9457 on the API,
HubSpot's error shape on the compatible API, a friendly page on the public pages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass
class FieldError:
    field: str
    reason: str
    code: str = "INVALID"


class Problem(Exception):
    """A request that cannot be done, with a stable code. Nothing was written."""

    status = 400
    title = "Bad request"

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.errors = errors or []
        if status is not None:
            self.status = status
            # A status given per instance gets its own title (a 403 is not a "Bad request").
            self.title = HTTPStatus(status).phrase
        self.extra = extra or {}


class Invalid(Problem):
    status = 422
    title = "Unprocessable content"

    def __init__(self, field: str, reason: str, code: str = "VALIDATION_FAILED") -> None:
        super().__init__(code, f"{field}: {reason}", errors=[FieldError(field, reason, code)])


class NotFound(Problem):
    status = 404
    title = "Not found"

    def __init__(self, what: str, ident: object) -> None:
        super().__init__("NOT_FOUND", f"{what} {ident} does not exist.")


class Conflict(Problem):
    status = 409
    title = "Conflict"


@dataclass
class Collected:
    """Collects field errors so one response names every bad field."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, field_name: str, reason: str, code: str = "VALIDATION_FAILED") -> None:
        self.errors.append(FieldError(field_name, reason, code))

    def raise_if_any(self) -> None:
        if self.errors:
            first = self.errors[0]
            raise Problem(
                first.code,
                "; ".join(f"{e.field}: {e.reason}" for e in self.errors),
                errors=self.errors,
                status=422,
            )
