"""What the four email-provider webhooks share: bounded bodies, plain problem answers, the
freshness rule, and handing the parsed events to the action (issue 13).

Answers are plain status codes with a small problem body (`application/problem+json`:
title, status, detail): a provider logs them, nobody parses them. 200 with a summary when
the request was taken (including duplicates and reported bad events, which a retry would
not mend); 4xx when it is refused and nothing was written; 503 when the provider's secret
is not configured, naming the variable to set.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from assent.actions.feedback import FeedbackResult, Rejected, ReplayedToken, apply_feedback
from assent.config import Settings
from assent.domain.addresses import InvalidAddress, normalize_email
from assent.domain.feedback import FeedbackEvent
from assent.inbound.common import Refused as Refused
from assent.inbound.common import read_body as _read_body
from assent.storage.db import Database

#: a SendGrid batch is at most a few MB; single events are small
MAX_BODY = 8 * 1024 * 1024
#: a signature's timestamp older (or newer) than this is refused as stale
FRESH_FOR = dt.timedelta(minutes=5)

Parsed = Sequence[FeedbackEvent | Rejected]


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused with 413 past `limit` bytes (read no further)."""
    return await _read_body(request, limit)


def unauthorized(detail: str) -> Refused:
    return Refused(401, title="Unauthorized", detail=detail)


def bad_request(detail: str) -> Refused:
    return Refused(400, title="Bad request", detail=detail)


def not_configured(variable: str, what: str) -> Refused:
    return Refused(
        503, title="Not configured", detail=f"{what} is not set up here: set {variable} to accept these webhooks."
    )


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise bad_request(f"the body is not JSON: {error}") from None


def check_fresh(at: dt.datetime, now: dt.datetime | None = None) -> None:
    """Refuse a signature timestamp more than FRESH_FOR away from now (a replay)."""
    now = now or dt.datetime.now(dt.UTC)
    if abs(now - at) > FRESH_FOR:
        raise unauthorized(f"the signed timestamp {at.isoformat()} is stale (more than 5 minutes from now)")


def unix_time(raw: object, field: str) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(float(str(raw)), dt.UTC)
    except (TypeError, ValueError, OverflowError):
        raise unauthorized(f"{field}: not a Unix timestamp") from None


def maybe_unix_time(raw: object) -> dt.datetime | None:
    """An event's own Unix time, None when it is not one (it is only evidence)."""
    if not isinstance(raw, int | float) or isinstance(raw, bool):
        return None
    try:
        return dt.datetime.fromtimestamp(raw, dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None


def iso_time(raw: object) -> dt.datetime | None:
    """An ISO 8601 time as the providers write it, None when it is not one."""
    if not isinstance(raw, str):
        return None
    text = raw.strip().replace("Z", "+00:00")
    # Postmark writes seven fractional digits; Python reads up to six.
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        text = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def recipient(value: object, field: str) -> str:
    """The recipient of a one-event request, checked (R1): a 400/422 naming the field."""
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{field}: missing")
    try:
        normalize_email(value)
    except InvalidAddress as error:
        raise Refused(422, title="Unprocessable", detail=f"{field}: {error.reason}") from None
    return value


def text(value: object, limit: int = 500) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    cleaned = " ".join(str(value).split())
    return cleaned[:limit] or None


async def apply(request: Request, provider: str, parsed: Parsed, token: str | None = None) -> JSONResponse:
    """Hand the events to the action (in a worker thread) and answer its summary."""
    db = db_of(request)
    try:
        result: FeedbackResult = await run_in_threadpool(_apply, db, provider, parsed, token)
    except ReplayedToken:
        # 406: Mailgun does not retry it; the first delivery of this token was applied.
        raise Refused(406, title="Replayed", detail="this webhook token was accepted before; nothing written") from None
    return JSONResponse(result.as_dict())


def _apply(db: Database, provider: str, parsed: Parsed, token: str | None) -> FeedbackResult:
    return apply_feedback(db, provider, parsed, token=token)


def one_event(parse: Callable[[Any], FeedbackEvent | None], payload: Any) -> Parsed:
    """A request that carries one event: its event, or none when it means nothing."""
    event = parse(payload)
    return [event] if event is not None else []
