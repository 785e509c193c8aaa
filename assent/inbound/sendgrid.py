"""`POST /inbound/sendgrid`: Twilio SendGrid's Event Webhook (a JSON array of events).

Authentication is SendGrid's Signed Event Webhook: an ECDSA (P-256, SHA-256) signature,
base64 DER, in `X-Twilio-Email-Event-Webhook-Signature`, over the bytes of the
`X-Twilio-Email-Event-Webhook-Timestamp` header followed by the raw body, verified with the
public key SendGrid shows (`ASSENT_SENDGRID_PUBLIC_KEY`, base64 DER SubjectPublicKeyInfo)
through `cryptography`. A timestamp more than five minutes off is refused.

Custom args (`custom_args` on the message) come back as top-level fields of each event.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from assent.actions.feedback import Rejected
from assent.domain.feedback import TYPE_KEY, UNIT_KEY, FeedbackEvent, FeedbackKind, metadata_id
from assent.inbound import esp

router = APIRouter()

PROVIDER = "sendgrid"
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_EVENTS = 10_000

_SIMPLE = {
    "spamreport": FeedbackKind.COMPLAINT,
    "unsubscribe": FeedbackKind.UNSUBSCRIBE,
    "group_unsubscribe": FeedbackKind.UNSUBSCRIBE,
    "group_resubscribe": FeedbackKind.GROUP_RESUBSCRIBE,
    "delivered": FeedbackKind.DELIVERY,
}
#: `dropped`: SendGrid did not send, because of what it already knew of the address
_DROPPED = {
    "Bounced Address": FeedbackKind.HARD_BOUNCE,
    "Spam Reporting Address": FeedbackKind.COMPLAINT,
    "Unsubscribed Address": FeedbackKind.UNSUBSCRIBE,
}


@lru_cache(maxsize=4)
def _public_key(encoded: str) -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(base64.b64decode(encoded))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic-curve key")
    return key


def verify(public_key: str, signature: str, timestamp: str, body: bytes) -> bool:
    """SendGrid's scheme: ECDSA-SHA256 over timestamp + payload."""
    try:
        key = _public_key(public_key.strip())
    except (ValueError, binascii.Error):
        raise esp.Refused(
            503, title="Misconfigured", detail="ASSENT_SENDGRID_PUBLIC_KEY is not a base64 EC public key"
        ) from None
    try:
        key.verify(base64.b64decode(signature, validate=True), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


@router.post("/sendgrid")
async def receive(request: Request) -> JSONResponse:
    settings = esp.settings_of(request)
    if not settings.sendgrid_public_key:
        raise esp.not_configured("ASSENT_SENDGRID_PUBLIC_KEY", "The SendGrid Event Webhook")
    signature, timestamp = request.headers.get(SIGNATURE), request.headers.get(TIMESTAMP)
    if not signature or not timestamp:
        raise esp.unauthorized(f"unsigned: {SIGNATURE} and {TIMESTAMP} are required")
    body = await esp.read_body(request)
    if not verify(settings.sendgrid_public_key, signature, timestamp, body):
        raise esp.unauthorized("the signature does not match the body and timestamp")
    esp.check_fresh(esp.unix_time(timestamp, TIMESTAMP))
    payload = esp.parse_json(body)
    if not isinstance(payload, list):
        raise esp.bad_request("the body must be a JSON array of events")
    if len(payload) > MAX_EVENTS:
        raise esp.Refused(413, title="Payload too large", detail=f"at most {MAX_EVENTS} events per request")
    return await esp.apply(request, PROVIDER, [parse(i, item) for i, item in enumerate(payload)])


def parse(index: int, item: Any) -> FeedbackEvent | Rejected:
    if not isinstance(item, dict):
        return Rejected(index, None, "not a JSON object")
    event_id = item.get("sg_event_id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 200:
        return Rejected(index, None, "sg_event_id: missing")
    email = item.get("email")
    if not isinstance(email, str) or not email:
        return Rejected(index, event_id, "email: missing")
    name = item.get("event")
    kind = _kind(name, item)
    group = metadata_id(item.get("asm_group_id")) if name in ("group_unsubscribe", "group_resubscribe") else None
    args = {**_nested(item, "unique_args"), **_nested(item, "custom_args"), **item}
    at = esp.maybe_unix_time(item.get("timestamp"))
    return FeedbackEvent(
        provider=PROVIDER,
        event_id=event_id,
        kind=kind,
        recipient=email,
        at=at,
        diagnostic=_diagnostic(name, item),
        subscription_type_id=metadata_id(args.get(TYPE_KEY)),
        business_unit_id=metadata_id(args.get(UNIT_KEY)),
        group_id=group,
    )


def _kind(name: object, item: dict[str, Any]) -> FeedbackKind:
    if name == "bounce":
        # type "bounce" is a hard bounce, "blocked" a block (soft); older payloads lack it
        return FeedbackKind.SOFT_BOUNCE if item.get("type") == "blocked" else FeedbackKind.HARD_BOUNCE
    if name == "dropped":
        return _DROPPED.get(str(item.get("reason")), FeedbackKind.OTHER)
    return _SIMPLE.get(str(name), FeedbackKind.OTHER)


def _diagnostic(name: object, item: dict[str, Any]) -> str | None:
    parts = [f"SendGrid {name}"]
    for key in ("type", "status", "reason", "bounce_classification", "asm_group_id"):
        value = esp.text(item.get(key), 300)
        if value:
            parts.append(f"{key}={value}")
    return "; ".join(parts)


def _nested(item: dict[str, Any], key: str) -> dict[str, Any]:
    value = item.get(key)
    return value if isinstance(value, dict) else {}
