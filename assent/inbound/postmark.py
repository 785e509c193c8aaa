"""`POST /inbound/postmark`: Postmark's Bounce, Spam Complaint and Subscription Change
webhooks (one record per request; Delivery, Open and Click records mean nothing here).

Postmark signs nothing: its webhooks authenticate with HTTP Basic credentials in the
webhook URL (`https://user:password@host/inbound/postmark`), checked here against
`ASSENT_POSTMARK_WEBHOOK_USER` / `ASSENT_POSTMARK_WEBHOOK_PASSWORD` in constant time.

A Subscription Change whose `SuppressionReason` is `HardBounce` or `SpamComplaint` is a
bounce or a complaint, not an unsubscribe. It carries no `ID`; its id here is a digest of
what makes it one change (recipient, stream, time, direction, reason).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from assent.domain.feedback import TYPE_KEY, UNIT_KEY, FeedbackEvent, FeedbackKind, metadata_id
from assent.inbound import esp

router = APIRouter()

PROVIDER = "postmark"
MAX_BODY = 256 * 1024

#: Bounce `Type` values (postmark.js BounceType)
_BOUNCES = {
    "HardBounce": FeedbackKind.HARD_BOUNCE,
    "BadEmailAddress": FeedbackKind.HARD_BOUNCE,
    "SoftBounce": FeedbackKind.SOFT_BOUNCE,
    "Transient": FeedbackKind.SOFT_BOUNCE,
    "DnsError": FeedbackKind.SOFT_BOUNCE,
    "Blocked": FeedbackKind.SOFT_BOUNCE,
    "DMARCPolicy": FeedbackKind.SOFT_BOUNCE,
    "SpamComplaint": FeedbackKind.COMPLAINT,
    "Unsubscribe": FeedbackKind.UNSUBSCRIBE,
}
_SUPPRESSIONS = {"HardBounce": FeedbackKind.HARD_BOUNCE, "SpamComplaint": FeedbackKind.COMPLAINT}


def authorized(header: str | None, user: str, password: str) -> bool:
    """HTTP Basic credentials, compared in constant time (both parts, always)."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given_user, _, given_password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user_ok = secrets.compare_digest(given_user.encode(), user.encode())
    password_ok = secrets.compare_digest(given_password.encode(), password.encode())
    return user_ok and password_ok


@router.post("/postmark")
async def receive(request: Request) -> JSONResponse:
    settings = esp.settings_of(request)
    user, password = settings.postmark_webhook_user, settings.postmark_webhook_password
    if not user:
        raise esp.not_configured("ASSENT_POSTMARK_WEBHOOK_USER", "The Postmark webhook")
    if not password:
        raise esp.not_configured("ASSENT_POSTMARK_WEBHOOK_PASSWORD", "The Postmark webhook")
    if not authorized(request.headers.get("authorization"), user, password):
        raise esp.unauthorized("the Basic credentials are missing or wrong")
    payload = esp.parse_json(await esp.read_body(request, MAX_BODY))
    if not isinstance(payload, dict):
        raise esp.bad_request("the body must be one JSON record")
    return await esp.apply(request, PROVIDER, esp.one_event(parse, payload))


def parse(record: dict[str, Any]) -> FeedbackEvent | None:
    """The record as a neutral event; None for records that mean nothing here. A record
    that should mean something but cannot be read is a 400 naming the field."""
    record_type = record.get("RecordType")
    if record_type == "SubscriptionChange":
        return _subscription_change(record)
    if record_type not in ("Bounce", "SpamComplaint"):
        return None
    event_id = record.get("ID")
    if not isinstance(event_id, int | str) or isinstance(event_id, bool) or not str(event_id):
        raise esp.bad_request("ID: missing")
    kind = FeedbackKind.COMPLAINT if record_type == "SpamComplaint" else _BOUNCES.get(str(record.get("Type")))
    if kind is None:
        return None  # an auto-responder, a challenge, …: not a bounce that counts
    details = [record.get(k) for k in ("Type", "TypeCode", "Description", "Details")]
    return _event(str(event_id), kind, _recipient(record, "Email"), record, "BouncedAt", details)


def _subscription_change(record: dict[str, Any]) -> FeedbackEvent:
    recipient = _recipient(record, "Recipient")
    suppress = record.get("SuppressSending")
    if not isinstance(suppress, bool):
        raise esp.bad_request("SuppressSending: missing")
    reason = str(record.get("SuppressionReason") or "")
    # SuppressSending false is a reactivation: evidence only (R5)
    kind = _SUPPRESSIONS.get(reason, FeedbackKind.UNSUBSCRIBE) if suppress else FeedbackKind.GROUP_RESUBSCRIBE
    identity = "|".join(
        str(record.get(k)) for k in ("Recipient", "MessageStream", "ChangedAt", "SuppressSending", "SuppressionReason")
    )
    event_id = "sc:" + hashlib.sha256(identity.encode()).hexdigest()[:40]
    details = ["SubscriptionChange", reason or None, f"Origin={record.get('Origin')}", record.get("MessageStream")]
    return _event(event_id, kind, recipient, record, "ChangedAt", details)


def _event(
    event_id: str, kind: FeedbackKind, recipient: str, record: dict[str, Any], time_key: str, details: list[Any]
) -> FeedbackEvent:
    metadata = record.get("Metadata") if isinstance(record.get("Metadata"), dict) else {}
    assert isinstance(metadata, dict)
    diagnostic = "Postmark " + "; ".join(t for t in (esp.text(d, 300) for d in details) if t)
    return FeedbackEvent(
        provider=PROVIDER,
        event_id=event_id,
        kind=kind,
        recipient=recipient,
        at=esp.iso_time(record.get(time_key)),
        diagnostic=diagnostic,
        subscription_type_id=metadata_id(metadata.get(TYPE_KEY)),
        business_unit_id=metadata_id(metadata.get(UNIT_KEY)),
    )


def _recipient(record: dict[str, Any], key: str) -> str:
    return esp.recipient(record.get(key), key)
