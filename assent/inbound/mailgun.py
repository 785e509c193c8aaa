"""`POST /inbound/mailgun`: Mailgun's webhooks (JSON: `signature` and `event-data`).

Mailgun's scheme: `signature.signature` is the hex HMAC-SHA256, keyed with the webhook
signing key (`ASSENT_MAILGUN_SIGNING_KEY`), of `signature.timestamp` followed by
`signature.token` with no separator. The signature does not cover the event, so a token is
accepted once only: it is stored in the transaction that applies the event, and a second
request with it is refused (406, which Mailgun does not retry). A timestamp more than five
minutes off is refused.

User variables (`v:` form fields or the `X-Mailgun-Variables` header on the message) come
back in `event-data.user-variables`.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from assent.domain.feedback import TYPE_KEY, UNIT_KEY, FeedbackEvent, FeedbackKind, metadata_id
from assent.inbound import esp

router = APIRouter()

PROVIDER = "mailgun"
MAX_BODY = 512 * 1024

_EVENTS = {
    "complained": FeedbackKind.COMPLAINT,
    "unsubscribed": FeedbackKind.UNSUBSCRIBE,
    "delivered": FeedbackKind.DELIVERY,
}
#: a permanent failure because Mailgun's own suppression lists already hold the address
_SUPPRESSED = {
    "suppress-complaint": FeedbackKind.COMPLAINT,
    "suppress-unsubscribe": FeedbackKind.UNSUBSCRIBE,
}


def expected_signature(signing_key: str, timestamp: str, token: str) -> str:
    return hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


@router.post("/mailgun")
async def receive(request: Request) -> JSONResponse:
    settings = esp.settings_of(request)
    if not settings.mailgun_signing_key:
        raise esp.not_configured("ASSENT_MAILGUN_SIGNING_KEY", "The Mailgun webhook")
    payload = esp.parse_json(await esp.read_body(request, MAX_BODY))
    signature = payload.get("signature") if isinstance(payload, dict) else None
    if not isinstance(signature, dict):
        raise esp.unauthorized("unsigned: the body has no signature object")
    timestamp, token, given = (signature.get(k) for k in ("timestamp", "token", "signature"))
    if not all(isinstance(v, str | int) and str(v) for v in (timestamp, token, given)) or len(str(token)) > 200:
        raise esp.unauthorized("signature: timestamp, token and signature are required")
    expected = expected_signature(settings.mailgun_signing_key, str(timestamp), str(token))
    if not hmac.compare_digest(expected.encode(), str(given).encode()):
        raise esp.unauthorized("the signature does not match the timestamp and token")
    esp.check_fresh(esp.unix_time(timestamp, "signature.timestamp"))
    data = payload.get("event-data")
    if not isinstance(data, dict):
        raise esp.bad_request("event-data: missing")
    return await esp.apply(request, PROVIDER, esp.one_event(parse, data), token=str(token))


def parse(data: dict[str, Any]) -> FeedbackEvent | None:
    kind = _kind(data)
    if kind is FeedbackKind.OTHER:
        return None
    event_id = data.get("id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 200:
        raise esp.bad_request("event-data.id: missing")
    variables = data.get("user-variables") if isinstance(data.get("user-variables"), dict) else {}
    assert isinstance(variables, dict)
    return FeedbackEvent(
        provider=PROVIDER,
        event_id=event_id,
        kind=kind,
        recipient=esp.recipient(data.get("recipient"), "event-data.recipient"),
        at=esp.maybe_unix_time(data.get("timestamp")),
        diagnostic=_diagnostic(data),
        subscription_type_id=metadata_id(variables.get(TYPE_KEY)),
        business_unit_id=metadata_id(variables.get(UNIT_KEY)),
    )


def _kind(data: dict[str, Any]) -> FeedbackKind:
    event = data.get("event")
    if event == "failed":
        if data.get("severity") == "permanent":
            return _SUPPRESSED.get(str(data.get("reason")), FeedbackKind.HARD_BOUNCE)
        return FeedbackKind.SOFT_BOUNCE
    return _EVENTS.get(str(event), FeedbackKind.OTHER)


def _diagnostic(data: dict[str, Any]) -> str:
    status = data.get("delivery-status") if isinstance(data.get("delivery-status"), dict) else {}
    assert isinstance(status, dict)
    parts = [
        f"Mailgun {data.get('event')}",
        *(f"{k}={v}" for k in ("severity", "reason") if (v := esp.text(data.get(k), 100))),
        *(f"{k}={v}" for k in ("code", "description", "message") if (v := esp.text(status.get(k), 300))),
    ]
    return "; ".join(parts)
