"""`POST /inbound/ses`: Amazon SES bounce, complaint and delivery notifications, through an
Amazon SNS HTTP(S) subscription.

Every SNS message is verified (`inbound/sns.py`) before anything else; one more than five
minutes old is refused. A `SubscriptionConfirmation` is confirmed by visiting its
`SubscribeURL` (only under the allowed prefixes); an `UnsubscribeConfirmation` is taken
note of and nothing visited. A `Notification`'s `Message` is the SES notification: one
neutral event per recipient, deduplicated on the SNS `MessageId` (`MessageId#2`, … for
the further recipients of one notification).

SNS signs the messages of every AWS account's topics alike: with `ASSENT_SNS_TOPIC_ARNS` set,
a message (or raw delivery's `x-amz-sns-topic-arn`) from any other topic is refused (403)
and its subscription never confirmed.

Raw message delivery carries no SNS envelope and so no signature: it is refused unless
`ASSENT_SES_RAW_TOKEN` is set and the URL carries it (`/inbound/ses?token=…`); its id is
SNS's `x-amz-sns-message-id` header.

Metadata travels as SES message tags (`mail.tags`, with event publishing).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from assent.actions.feedback import Rejected
from assent.config import Settings
from assent.domain.feedback import TYPE_KEY, UNIT_KEY, FeedbackEvent, FeedbackKind, metadata_id
from assent.inbound import esp, sns

router = APIRouter()

PROVIDER = "ses"
MAX_BODY = 512 * 1024  # an SNS message is at most 256 KB


def _verifier(request: Request, settings: Settings) -> sns.Verifier:
    """One per app: it caches the signing certificates."""
    state = request.app.state
    found = getattr(state, "sns_verifier", None)
    if found is None:
        found = state.sns_verifier = sns.Verifier(settings.sns_cert_url_prefixes)
    assert isinstance(found, sns.Verifier)
    return found


@router.post("/ses")
async def receive(request: Request) -> JSONResponse:
    settings = esp.settings_of(request)
    payload = esp.parse_json(await esp.read_body(request, MAX_BODY))
    if not isinstance(payload, dict):
        raise esp.bad_request("the body must be a JSON object")
    if "Signature" not in payload or "Type" not in payload:
        return await _raw(request, settings, payload)
    verifier = _verifier(request, settings)
    try:
        await run_in_threadpool(verifier.verify, payload)
        kind = payload["Type"]
        esp.check_fresh(_sns_time(payload.get("Timestamp")))
        _check_topic(settings, payload.get("TopicArn"))
        if kind == "SubscriptionConfirmation":
            await run_in_threadpool(verifier.confirm, payload)
            return JSONResponse({"confirmed": True, "topic_arn": payload.get("TopicArn")})
        if kind == "UnsubscribeConfirmation":
            return JSONResponse({"unsubscribed": True, "topic_arn": payload.get("TopicArn")})
    except sns.Untrusted as error:
        raise esp.unauthorized(str(error)) from None
    except sns.Unreachable as error:
        raise esp.Refused(502, title="Bad gateway", detail=f"could not reach SNS: {error}") from None
    message = _message(payload.get("Message"))
    return await esp.apply(request, PROVIDER, parse(str(payload.get("MessageId")), message))


async def _raw(request: Request, settings: Settings, payload: dict[str, Any]) -> JSONResponse:
    if not settings.ses_raw_token:
        raise esp.Refused(
            403,
            title="Forbidden",
            detail="unsigned SNS message (raw message delivery?): turn raw delivery off, or set ASSENT_SES_RAW_TOKEN "
            "and add ?token=<it> to the subscription URL",
        )
    given = request.query_params.get("token", "")
    if not secrets.compare_digest(given.encode(), settings.ses_raw_token.encode()):
        raise esp.unauthorized("raw message delivery: the token parameter is missing or wrong")
    _check_topic(settings, request.headers.get("x-amz-sns-topic-arn"))
    message_id = request.headers.get("x-amz-sns-message-id", "")
    if not message_id or len(message_id) > 150:
        raise esp.bad_request("raw message delivery: the x-amz-sns-message-id header is missing")
    return await esp.apply(request, PROVIDER, parse(message_id, payload))


def _check_topic(settings: Settings, topic: object) -> None:
    """Refuse a topic that ASSENT_SNS_TOPIC_ARNS (when set) does not list."""
    if settings.sns_topic_arns and topic not in settings.sns_topic_arns:
        raise esp.Refused(
            403,
            title="Forbidden",
            detail=f"TopicArn {str(topic)[:200]!r} is not one of ASSENT_SNS_TOPIC_ARNS; nothing written or confirmed",
        )


def _sns_time(raw: object) -> dt.datetime:
    at = esp.iso_time(raw)
    if at is None:
        raise esp.unauthorized("Timestamp: missing or not ISO 8601")
    return at


def _message(raw: object) -> dict[str, Any]:
    try:
        message = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        message = None
    if not isinstance(message, dict):
        raise esp.bad_request("Message: not an SES notification (JSON object)")
    return message


def parse(message_id: str, message: dict[str, Any]) -> list[FeedbackEvent | Rejected]:
    """An SES notification (or event) as neutral events, one per recipient."""
    kind_name = message.get("notificationType") or message.get("eventType")
    mail = message.get("mail") if isinstance(message.get("mail"), dict) else {}
    assert isinstance(mail, dict)
    tags = mail.get("tags") if isinstance(mail.get("tags"), dict) else {}
    assert isinstance(tags, dict)
    if kind_name == "Bounce":
        detail = _object(message, "bounce")
        bounce_type = str(detail.get("bounceType", ""))
        kind = FeedbackKind.HARD_BOUNCE if bounce_type.lower() == "permanent" else FeedbackKind.SOFT_BOUNCE
        recipients_key = "bouncedRecipients"
        base = f"SES bounce {bounce_type}/{detail.get('bounceSubType')}"
    elif kind_name == "Complaint":
        detail = _object(message, "complaint")
        feedback_type = detail.get("complaintFeedbackType")
        if feedback_type == "not-spam":
            return []
        kind, recipients_key = FeedbackKind.COMPLAINT, "complainedRecipients"
        base = f"SES complaint; feedback type={feedback_type}; sub-type={detail.get('complaintSubType')}"
    else:
        return []  # Delivery, Send, Open, …: nothing to change
    recipients = detail.get(recipients_key)
    if not isinstance(recipients, list) or not recipients:
        raise esp.bad_request(f"{kind_name.lower()}.{recipients_key}: missing")
    at = esp.iso_time(detail.get("timestamp"))
    events: list[FeedbackEvent | Rejected] = []
    for index, recipient in enumerate(recipients):
        event_id = message_id if index == 0 else f"{message_id}#{index + 1}"
        email = recipient.get("emailAddress") if isinstance(recipient, dict) else None
        if not isinstance(email, str) or not email:
            events.append(Rejected(index, event_id, f"{recipients_key}[{index}].emailAddress: missing"))
            continue
        assert isinstance(recipient, dict)
        extra = [f"{k}={v}" for k in ("action", "status", "diagnosticCode") if (v := esp.text(recipient.get(k), 300))]
        events.append(
            FeedbackEvent(
                provider=PROVIDER,
                event_id=event_id,
                kind=kind,
                recipient=email,
                at=at,
                diagnostic="; ".join([base, *extra]),
                subscription_type_id=metadata_id(tags.get(TYPE_KEY)),
                business_unit_id=metadata_id(tags.get(UNIT_KEY)),
            )
        )
    return events


def _object(message: dict[str, Any], key: str) -> dict[str, Any]:
    value = message.get(key)
    if not isinstance(value, dict):
        raise esp.bad_request(f"{key}: missing")
    return value
